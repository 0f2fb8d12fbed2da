package bench

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Counter is a pair of monotonically increasing totals, updated by the
// goroutines doing the work and read by the progress reporter.
type Counter struct {
	Records atomic.Int64
	Bytes   atomic.Int64
}

// Add counts one record of n bytes.
func (c *Counter) Add(n int) {
	c.Records.Add(1)
	c.Bytes.Add(int64(n))
}

// progress prints one line per interval to w while a phase runs: the totals
// and the rates over the last interval. extra, if set, adds to each line.
type progress struct {
	stop chan struct{}
	done sync.WaitGroup
}

func startProgress(w io.Writer, name string, c *Counter, interval time.Duration, extra func() string) *progress {
	p := &progress{stop: make(chan struct{})}
	if w == nil || interval <= 0 {
		return p
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		start := time.Now()
		last := start
		var lastRec, lastBytes int64
		for {
			select {
			case <-p.stop:
				return
			case now := <-t.C:
				rec, b := c.Records.Load(), c.Bytes.Load()
				dt := now.Sub(last).Seconds()
				line := fmt.Sprintf("%s %5.1fs: %d records, %.0f records/s, %.1f MB/s",
					name, now.Sub(start).Seconds(), rec, float64(rec-lastRec)/dt, float64(b-lastBytes)/1e6/dt)
				if extra != nil {
					if s := extra(); s != "" {
						line += ", " + s
					}
				}
				fmt.Fprintln(w, line)
				last, lastRec, lastBytes = now, rec, b
			}
		}
	}()
	return p
}

// Stop ends the reporter and waits for it.
func (p *progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.done.Wait()
}
