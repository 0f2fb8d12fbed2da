package api

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partResult is one partition's part of a fetch response: the metadata
// fields, and the record data as a file range sent with sendfile.
type partResult struct {
	fp   *fetchPartition
	name string
	id   [16]byte
	resp kmsg.FetchResponseTopicPartition // Records left nil; see rr
	rr   log.ReadResult
}

// handleFetch serves a Fetch: read what is there; if it is less than
// MinBytes, wait (up to MaxWaitMillis) for appends to any of the partitions
// and read again. The wait happens in the returned Reply, so it does not
// hold up the reading of the connection's next request.
func (b *Broker) handleFetch(ctx context.Context, rc *server.RequestContext, req *kmsg.FetchRequest) server.Reply {
	start := time.Now()
	plan, code := b.sessions.plan(req, start)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = code
		return now(rc, resp)
	}
	// MaxBytes arrived in v3; 0 is a real limit there (Kafka then returns
	// only the first batch, KIP-74); a negative one is taken as unset.
	maxBytes := req.MaxBytes
	if req.Version < 3 || maxBytes < 0 {
		maxBytes = b.cfg.FetchMaxBytes
	}
	maxBytes = min(maxBytes, b.cfg.FetchMaxBytes)
	f := &fetchOp{b: b, req: req, plan: plan, maxBytes: int(maxBytes),
		results: make([]partResult, 0, len(plan.parts))}
	got := f.read()
	deadline := start.Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	// Nothing to wait for with no partitions: Kafka answers at once.
	if got >= int(req.MinBytes) || f.failed || len(plan.parts) == 0 || !time.Now().Before(deadline) {
		return rc.Ready(f.reply())
	}
	// Register, then read again: an append between the first read and the
	// registration would otherwise go unnoticed until the next one (or
	// MaxWaitMillis).
	w := partition.NewWaiter()
	ps := f.partitions()
	for _, p := range ps {
		p.AddWaiter(w)
	}
	unregister := func() {
		for _, p := range ps {
			p.RemoveWaiter(w)
		}
	}
	if f.read() >= int(req.MinBytes) || f.failed {
		unregister()
		return rc.Ready(f.reply())
	}
	return rc.Inline(func() server.Response {
		defer unregister()
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		for {
			select {
			case <-w.C:
			case <-timer.C:
				f.read()
				return f.reply()
			case <-ctx.Done():
				return f.reply()
			}
			if f.read() >= int(req.MinBytes) || f.failed {
				return f.reply()
			}
		}
	})
}

type fetchOp struct {
	b        *Broker
	req      *kmsg.FetchRequest
	plan     fetchPlan
	maxBytes int
	results  []partResult
	failed   bool // a partition has an error: answer at once
}

// partitions returns the open partitions the fetch reads.
func (f *fetchOp) partitions() []*partition.Partition {
	var out []*partition.Partition
	for _, r := range f.results {
		if p, _ := f.b.partition(r.name, r.fp.partition); p != nil {
			out = append(out, p)
		}
	}
	return out
}

func (f *fetchOp) release() {
	for i := range f.results {
		f.results[i].rr.Release()
	}
}

// read (re)reads every partition and returns the record bytes found.
func (f *fetchOp) read() int {
	f.release()
	f.results = f.results[:0]
	f.failed = false
	total := 0
	for _, fp := range f.plan.parts {
		r := partResult{fp: fp, name: fp.topic, id: fp.id}
		r.resp = kmsg.NewFetchResponseTopicPartition()
		r.resp.Partition = fp.partition
		r.resp.HighWatermark, r.resp.LastStableOffset, r.resp.LogStartOffset = -1, -1, -1
		var err error
		if f.req.Version >= 13 {
			// The name was resolved when the partition joined the request
			// or session (plan); readPartition checks it still has this ID.
			r.name = fp.name
			if fp.name == "" {
				err = kerr.UnknownTopicID
			}
		} else if id, ok := f.b.meta.TopicID(fp.topic); ok {
			r.id = id
		}
		if err == nil {
			// KIP-74: the first batch of the first non-empty partition is
			// returned even if larger than the limits.
			limit := min(int(fp.maxBytes), f.maxBytes-total)
			err = f.readPartition(&r, max(limit, 0), total == 0)
		}
		if err != nil {
			// As Kafka's ReplicaManager (createLogReadResult of the
			// error): a failed partition carries no offsets and no aborted
			// transactions; in a session that also makes it news again
			// once the error is gone.
			r.resp.ErrorCode, _ = codeOf(err)
			r.resp.HighWatermark, r.resp.LastStableOffset, r.resp.LogStartOffset = -1, -1, -1
			r.resp.AbortedTransactions = nil
			f.failed = true
		}
		total += int(r.rr.Size)
		f.results = append(f.results, r)
	}
	return total
}

func (f *fetchOp) readPartition(r *partResult, limit int, minOne bool) error {
	p, ts := f.b.partition(r.name, r.fp.partition)
	if f.req.Version >= 13 && ts != nil && ts.meta.ID != r.fp.id {
		// The topic was deleted and created again since the partition
		// joined the session (Kafka's session caches the name too).
		return kerr.InconsistentTopicID
	}
	if p == nil {
		return kerr.UnknownTopicOrPartition // also a topic deleted since
	}
	epoch := p.LeaderEpoch()
	switch {
	case r.fp.currentLeaderEpoch > epoch:
		return kerr.UnknownLeaderEpoch
	case r.fp.currentLeaderEpoch >= 0 && r.fp.currentLeaderEpoch < epoch:
		return kerr.FencedLeaderEpoch
	}
	hw := p.HighWatermark()
	r.resp.HighWatermark, r.resp.LastStableOffset, r.resp.LogStartOffset = hw, p.LastStableOffset(), p.LogStartOffset()
	readCommitted := f.req.IsolationLevel == 1
	if readCommitted {
		r.resp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	}
	if limit == 0 && !minOne {
		return nil
	}
	var rr log.ReadResult
	var err error
	if readCommitted {
		var aborted []partition.AbortedTxn
		rr, aborted, err = p.ReadCommitted(r.fp.fetchOffset, limit, minOne)
		for _, a := range aborted {
			r.resp.AbortedTransactions = append(r.resp.AbortedTransactions,
				kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset})
		}
	} else {
		rr, err = p.Read(r.fp.fetchOffset, limit, minOne)
	}
	if errors.Is(err, log.ErrOffsetOutOfRange) {
		return kerr.OffsetOutOfRange
	}
	if err != nil {
		f.b.log.Error("fetch read failed", "topic", r.name, "partition", r.fp.partition, "offset", r.fp.fetchOffset, "err", err)
		return kerr.KafkaStorageError
	}
	r.rr = rr
	return nil
}

// reply encodes the response, keeping record data as file ranges.
func (f *fetchOp) reply() server.Response {
	resp := f.req.ResponseKind().(*kmsg.FetchResponse)
	resp.Version = f.req.Version
	sent := make([]partResult, 0, len(f.results))
	if f.plan.session != nil {
		resp.SessionID = f.plan.session.id
	}
	for _, r := range f.results {
		if f.plan.incremental && r.rr.Size == 0 && r.resp.ErrorCode == 0 &&
			r.resp.HighWatermark == r.fp.sentHW && r.resp.LogStartOffset == r.fp.sentLogStart {
			continue // nothing new for this partition
		}
		sent = append(sent, r)
	}
	if f.plan.session != nil {
		f.plan.session.sent(f.results)
	}
	results := f.results
	f.results = nil // now owned by the response
	body := encodeFetchResponse(resp, sent)
	return server.Response{Body: body, Release: func() {
		for i := range results {
			results[i].rr.Release()
		}
	}}
}
