package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// brokerSession measures a broker the bench started across the phases of a
// run. A nil *brokerSession (no broker started) does nothing.
type brokerSession struct {
	b     *Broker
	last  ProcStats
	stats BrokerStats
}

func startSession(ctx context.Context, spec *BrokerSpec, log io.Writer) (*brokerSession, error) {
	if spec == nil {
		return nil, nil
	}
	b, err := StartBroker(ctx, *spec)
	if err != nil {
		return nil, err
	}
	if log != nil {
		fmt.Fprintf(log, "started broker pid %d at %s: %s\n", b.PID(), b.Addr, b.Command)
	}
	s := &brokerSession{b: b, stats: BrokerStats{Command: b.Command, PID: b.PID()}}
	if s.last, err = b.Stats(); err != nil {
		_ = b.Stop()
		return nil, fmt.Errorf("broker stats: %w", err)
	}
	return s, nil
}

// phase returns the broker CPU seconds since the previous call.
func (s *brokerSession) phase() float64 {
	if s == nil {
		return 0
	}
	st, err := s.b.Stats()
	if err != nil {
		return 0 // exited; the run reports its own error
	}
	d := st.CPUSeconds - s.last.CPUSeconds
	s.last = st
	s.stats.CPUSeconds += d
	if st.PeakRSSBytes > s.stats.PeakRSSBytes {
		s.stats.PeakRSSBytes = st.PeakRSSBytes
	}
	return d
}

func (s *brokerSession) finish(sum *Summary) error {
	if s == nil {
		return nil
	}
	var moved int64
	if sum.Produce != nil {
		moved += sum.Produce.Bytes
	}
	if sum.Consume != nil {
		moved += sum.Consume.Bytes
	}
	if sum.ConsumeRaw != nil {
		moved += sum.ConsumeRaw.Bytes
	}
	if sum.E2E != nil {
		moved += sum.E2E.Bytes
	}
	s.stats.BytesMoved = moved
	if moved > 0 {
		s.stats.CPUSecondsPerGB = s.stats.CPUSeconds / (float64(moved) / 1e9)
	}
	sum.Broker = &s.stats
	return s.b.Stop()
}

func fsyncName(spec *BrokerSpec) string {
	if spec == nil || spec.Command != "" {
		return ""
	}
	if spec.Fsync {
		return "on"
	}
	return "off"
}

// ProduceRun is a produce workload, optionally against a broker the bench
// starts, optionally followed by one consumer reading the topic back.
type ProduceRun struct {
	Produce ProduceConfig
	// ConsumeAfter reads the whole topic back with Consume's settings
	// (its Topic and Brokers are taken from Produce); RawConsumeAfter then
	// reads it once more with raw fetches (see ConsumeConfig.Raw).
	ConsumeAfter    bool
	RawConsumeAfter bool
	Consume         ConsumeConfig
	// Broker, if set, is started before and stopped after the run.
	Broker *BrokerSpec
	// Log receives broker start-up lines (progress goes to Produce.Progress).
	Log io.Writer
}

// Run runs r. The summary holds whatever was measured even when err is set.
func (r ProduceRun) Run(ctx context.Context) (*Summary, error) {
	sess, err := startSession(ctx, r.Broker, r.Log)
	if err != nil {
		return r.Produce.newSummary(), err
	}
	if sess != nil {
		r.Produce.Brokers = []string{sess.b.Addr}
	}
	self := selfCPU()
	sum, err := RunProduce(ctx, r.Produce)
	if sum.Produce != nil {
		sum.Produce.ClientCPUSeconds = selfCPU() - self
	}
	if sess != nil {
		sess.stats.ProduceCPUSeconds = sess.phase()
	}
	if sum.Workload != nil {
		sum.Workload.Fsync = fsyncName(r.Broker)
	}
	if err == nil && (r.ConsumeAfter || r.RawConsumeAfter) {
		cc := r.Consume
		cc.ClientConfig = r.Produce.ClientConfig
		cc.Topic = r.Produce.Topic
		if cc.Progress == nil {
			cc.Progress = r.Produce.Progress
		}
		var start, end map[int32]int64
		if err = cc.validate(); err == nil {
			start, end, err = partitionOffsets(ctx, cc.ClientConfig, cc.Topic)
		}
		// read runs one read-back phase and returns the broker's CPU
		// seconds in it.
		read := func(raw bool) (*Throughput, float64) {
			self := selfCPU()
			var t *Throughput
			if raw {
				t, err = consumeRaw(ctx, &cc, start, end)
			} else {
				t, err = consume(ctx, &cc, start, end)
			}
			if t != nil {
				t.ClientCPUSeconds = selfCPU() - self
			}
			return t, sess.phase()
		}
		if err == nil && r.ConsumeAfter {
			var cpu float64
			if sum.Workload != nil {
				cc.describeGroup(sum.Workload)
			}
			sum.Consume, cpu = read(false)
			if sess != nil {
				sess.stats.ConsumeCPUSeconds = cpu
			}
		}
		if err == nil && r.RawConsumeAfter {
			var cpu float64
			cc.Group = "" // raw fetches read the partitions directly
			sum.ConsumeRaw, cpu = read(true)
			if sess != nil {
				sess.stats.ConsumeRawCPUSeconds = cpu
			}
		}
	}
	err = errors.Join(err, sess.finish(sum))
	return sum, err
}

// selfCPU is the bench process's CPU seconds so far (0 if /proc is absent).
func selfCPU() float64 {
	st, err := ReadProcStats(os.Getpid())
	if err != nil {
		return 0
	}
	return st.CPUSeconds
}

// E2ERun is an end-to-end latency run, optionally against a broker the bench
// starts.
type E2ERun struct {
	E2E    E2EConfig
	Broker *BrokerSpec
	Log    io.Writer
}

// Run runs r.
func (r E2ERun) Run(ctx context.Context) (*Summary, error) {
	sess, err := startSession(ctx, r.Broker, r.Log)
	if err != nil {
		return &Summary{Kind: "e2e"}, err
	}
	if sess != nil {
		r.E2E.Brokers = []string{sess.b.Addr}
	}
	self := selfCPU()
	sum, err := RunE2E(ctx, r.E2E)
	if sum.Produce != nil {
		sum.Produce.ClientCPUSeconds = selfCPU() - self
	}
	if sess != nil {
		sess.stats.ProduceCPUSeconds = sess.phase()
	}
	if sum.Workload != nil {
		sum.Workload.Fsync = fsyncName(r.Broker)
	}
	err = errors.Join(err, sess.finish(sum))
	return sum, err
}
