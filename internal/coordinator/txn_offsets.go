package coordinator

import "github.com/twmb/franz-go/pkg/kerr"

// Transactional offset commits (KIP-98, KIP-447): TxnOffsetCommit writes
// the offsets as the producer's transactional records in the group's
// __consumer_offsets partition; they take effect when the transaction's
// commit marker is written there, and vanish on abort.

// TxnCommitRequest is a TxnOffsetCommit.
type TxnCommitRequest struct {
	Group, MemberID, InstanceID string
	Generation                  int32 // -1: not checked (TxnOffsetCommit v0-v2)
	ProducerID                  int64
	ProducerEpoch               int16
	Offsets                     map[string]map[int32]Offset
}

// TxnCommit handles TxnOffsetCommit. The caller has checked the producer
// against the transaction coordinator.
func (c *Coordinator) TxnCommit(req TxnCommitRequest) (*kerr.Error, func() error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return kerr.CoordinatorLoadInProgress, nil
	}
	// KIP-447: a member that names itself must still be in the group's
	// generation.
	if _, _, kerrv := c.commitGroup(req.Group, req.MemberID, req.InstanceID, req.Generation, true, 0); kerrv != nil {
		return kerrv, nil
	}
	recs := c.offsetRecords(req.Group, req.Offsets)
	if len(recs) == 0 {
		return nil, func() error { return nil }
	}
	durable, err := c.writeAs(req.Group, recs, req.ProducerID, req.ProducerEpoch)
	if err != nil {
		c.lg.Error("writing transactional offset commit", "group", req.Group, "err", err)
		return kerr.UnknownServerError, nil
	}
	for topic, ps := range req.Offsets {
		for p, o := range ps {
			c.addPending(req.ProducerID, req.Group, topicPartition{topic, p}, o)
		}
	}
	return nil, durable
}

func (c *Coordinator) addPending(pid int64, group string, tp topicPartition, o Offset) {
	byGroup := c.pending[pid]
	if byGroup == nil {
		byGroup = map[string]map[topicPartition]Offset{}
		c.pending[pid] = byGroup
	}
	if byGroup[group] == nil {
		byGroup[group] = map[topicPartition]Offset{}
	}
	byGroup[group][tp] = o
}

// CompleteTxn applies (commit) or drops (abort) a producer's pending
// offsets; the broker calls it after writing the marker.
func (c *Coordinator) CompleteTxn(pid int64, commit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.completeTxn(pid, commit)
}

func (c *Coordinator) completeTxn(pid int64, commit bool) {
	byGroup := c.pending[pid]
	delete(c.pending, pid)
	if !commit {
		return
	}
	for group, offs := range byGroup {
		g := c.getOrCreate(group)
		for tp, o := range offs {
			g.offsets[tp] = o
		}
	}
}

// hasPending reports whether a transaction holds an uncommitted offset for
// a group's partition (OffsetFetch with require_stable).
func (c *Coordinator) hasPending(group string, tp topicPartition) bool {
	for _, byGroup := range c.pending {
		if _, ok := byGroup[group][tp]; ok {
			return true
		}
	}
	return false
}
