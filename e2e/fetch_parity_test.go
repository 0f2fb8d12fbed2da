package e2e

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The edge cases of Fetch, ListOffsets and OffsetForLeaderEpoch where an
// audit against Kafka's source found Samsa answering differently; each
// case names the Kafka code it follows.

func (c *txnConn) listOffsets(version int16, isolation int8, topic string, ts ...int64) []kmsg.ListOffsetsResponseTopicPartition {
	c.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(version)
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, t := range ts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = 0, t
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrListOffsetsResponse()
	c.roundTrip(req, resp)
	return resp.Topics[0].Partitions
}

// TestListOffsetsParity: with read_committed, a timestamp or max-timestamp
// lookup that lands at or past the last stable offset has no answer
// (ReplicaManager.fetchOffset's lastFetchableOffset); a partition named
// twice is one INVALID_REQUEST; a special timestamp before the version
// that introduced it, or an unknown negative one, is UNSUPPORTED_VERSION
// (isListOffsetsTimestampUnsupported).
func TestListOffsetsParity(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("lo", 1, nil)
	c := &txnConn{rawConn: dial(t, tb.addr)}
	c.corr = 100
	if pr := c.produceAs(nil, "lo", batch(-1, -1, -1, 3, 2), 1); pr.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(pr.ErrorCode))
	}
	time.Sleep(5 * time.Millisecond) // the open transaction's record is the newest
	pid, epoch := c.beginTxn("lo-tx", "lo-g")
	if code := c.addPartition(3, "lo-tx", pid, epoch, "lo"); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %s", codeName(code))
	}
	if code := c.produceTxn("lo-tx", pid, epoch, "lo"); code != 0 {
		t.Fatalf("transactional produce: %s", codeName(code))
	}
	open := c.listOffsets(10, 0, "lo", -3)[0] // the open transaction's record, offset 3
	if open.ErrorCode != 0 || open.Offset != 3 {
		t.Fatalf("max timestamp, read_uncommitted: %+v", open)
	}
	for _, ts := range []int64{-3, open.Timestamp} {
		if got := c.listOffsets(10, 1, "lo", ts)[0]; got.ErrorCode != 0 || got.Offset != -1 || got.Timestamp != -1 {
			t.Errorf("read_committed lookup %d: offset %d timestamp %d error %d, want -1/-1 (past the last stable offset 3)",
				ts, got.Offset, got.Timestamp, got.ErrorCode)
		}
		if got := c.listOffsets(10, 0, "lo", ts)[0]; got.Offset != 3 {
			t.Errorf("read_uncommitted lookup %d: offset %d, want 3", ts, got.Offset)
		}
	}
	if got := c.listOffsets(10, 1, "lo", -1)[0]; got.Offset != 3 {
		t.Errorf("read_committed latest: %d, want the last stable offset 3", got.Offset)
	}

	if got := c.listOffsets(10, 0, "lo", -1, -2); len(got) != 1 || got[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("a partition twice: %+v, want one INVALID_REQUEST", got)
	}
	for _, tc := range []struct {
		version int16
		ts      int64
	}{{6, -3}, {7, -4}, {8, -5}, {10, -7}} {
		if got := c.listOffsets(tc.version, 0, "lo", tc.ts)[0]; got.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Errorf("v%d timestamp %d: error %d, want UNSUPPORTED_VERSION", tc.version, tc.ts, got.ErrorCode)
		}
	}
	if got := c.listOffsets(7, 0, "lo", -3)[0]; got.ErrorCode != 0 || got.Offset != 3 {
		t.Errorf("v7 max timestamp: %+v", got)
	}
	if code := c.endTxn(3, "lo-tx", pid, epoch, false); code != 0 {
		t.Fatalf("EndTxn: %s", codeName(code))
	}
}

func (c *txnConn) fetch(req *kmsg.FetchRequest) *kmsg.FetchResponse {
	c.t.Helper()
	resp := kmsg.NewPtrFetchResponse()
	c.roundTrip(req, resp)
	return resp
}

func fetchRequest(version int16, sessionID, sessionEpoch int32, topics map[[16]byte]int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 1<<20
	req.SessionID, req.SessionEpoch = sessionID, sessionEpoch
	for id, off := range topics {
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, off, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// TestFetchParity: an out-of-range fetch carries no offsets (Kafka's
// createLogReadResult of the error); a topic deleted under an open v13+
// session is UNKNOWN_TOPIC_OR_PARTITION, and INCONSISTENT_TOPIC_ID once
// created again, instead of leaving the session silently; a session
// emptied by ForgottenTopics closes (session ID 0); a fetch of no
// partitions is answered at once; OffsetForLeaderEpoch of
// UNDEFINED_EPOCH answers -1/-1.
func TestFetchParity(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("f1", 1, nil)
	tb.createTopic("f2", 1, nil)
	c := &txnConn{rawConn: dial(t, tb.addr)}
	c.corr = 100
	for _, topic := range []string{"f1", "f2"} {
		if pr := c.produceAs(nil, topic, batch(-1, -1, -1, 3, 2), 1); pr.ErrorCode != 0 {
			t.Fatalf("produce %s: %s", topic, codeName(pr.ErrorCode))
		}
	}
	id1, id2 := tb.topicIDOf("f1"), tb.topicIDOf("f2")

	// MaxBytes 0 is a limit: only the first batch (KIP-74), of the first
	// partition; Kafka's fetchMaxBytes is min(MaxBytes, fetch.max.bytes).
	f2 := c.produceAs(nil, "f2", batch(-1, -1, -1, 3, 2), 2)
	if f2.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(f2.ErrorCode))
	}
	zero := fetchRequest(16, 0, -1, map[[16]byte]int64{id2: 0})
	zero.MaxBytes = 0
	// Both batches of f2 have the size of the one built here.
	if recs, one := c.fetch(zero).Topics[0].Partitions[0].RecordBatches, len(batch(-1, -1, -1, 3, 2)); len(recs) != one {
		t.Errorf("MaxBytes 0: %d bytes of records, want exactly the first batch (%d bytes)", len(recs), one)
	}

	oor := c.fetch(fetchRequest(16, 0, -1, map[[16]byte]int64{id1: 99})).Topics[0].Partitions[0]
	if oor.ErrorCode != kerr.OffsetOutOfRange.Code || oor.HighWatermark != -1 || oor.LastStableOffset != -1 || oor.LogStartOffset != -1 {
		t.Errorf("out of range: error %d hw %d lso %d log start %d, want OFFSET_OUT_OF_RANGE and -1s",
			oor.ErrorCode, oor.HighWatermark, oor.LastStableOffset, oor.LogStartOffset)
	}

	full := c.fetch(fetchRequest(16, 0, 0, map[[16]byte]int64{id1: 3, id2: 3}))
	if full.ErrorCode != 0 || full.SessionID == 0 {
		t.Fatalf("session: error %d id %d", full.ErrorCode, full.SessionID)
	}
	if _, err := tb.admin().DeleteTopic(ctxT(t), "f1"); err != nil {
		t.Fatal(err)
	}
	partitionError := func(resp *kmsg.FetchResponse, id [16]byte) int16 {
		for _, rt := range resp.Topics {
			if rt.TopicID == id {
				return rt.Partitions[0].ErrorCode
			}
		}
		return -1 // left out
	}
	inc := c.fetch(fetchRequest(16, full.SessionID, 1, nil))
	if got := partitionError(inc, id1); got != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("session fetch after the topic was deleted: %d, want UNKNOWN_TOPIC_OR_PARTITION", got)
	}
	tb.createTopic("f1", 1, nil)
	inc = c.fetch(fetchRequest(16, full.SessionID, 2, nil))
	if got := partitionError(inc, id1); got != kerr.InconsistentTopicID.Code {
		t.Errorf("session fetch after the topic was created again: %d, want INCONSISTENT_TOPIC_ID", got)
	}

	forget := fetchRequest(16, full.SessionID, 3, nil)
	for _, id := range [][16]byte{id1, id2} {
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.TopicID, ft.Partitions = id, []int32{0}
		forget.ForgottenTopics = append(forget.ForgottenTopics, ft)
	}
	if resp := c.fetch(forget); resp.ErrorCode != 0 || resp.SessionID != 0 {
		t.Errorf("session emptied by forgotten topics: error %d session %d, want a sessionless answer", resp.ErrorCode, resp.SessionID)
	}
	if resp := c.fetch(fetchRequest(16, full.SessionID, 4, nil)); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Errorf("the emptied session afterwards: error %d, want FETCH_SESSION_ID_NOT_FOUND", resp.ErrorCode)
	}

	empty := fetchRequest(16, 0, -1, nil)
	empty.MaxWaitMillis = 5000
	began := time.Now()
	if resp := c.fetch(empty); resp.ErrorCode != 0 || time.Since(began) > 2*time.Second {
		t.Errorf("fetch of no partitions: error %d after %v, want an answer at once", resp.ErrorCode, time.Since(began))
	}

	olr := kmsg.NewPtrOffsetForLeaderEpochRequest()
	olr.SetVersion(4)
	olr.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "f2"
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	olr.Topics = append(olr.Topics, rt)
	oresp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	c.roundTrip(olr, oresp)
	if sp := oresp.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.LeaderEpoch != -1 || sp.EndOffset != -1 {
		t.Errorf("OffsetForLeaderEpoch of UNDEFINED_EPOCH: %+v, want -1/-1", sp)
	}
}
