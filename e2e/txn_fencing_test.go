package e2e

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnConn is a raw connection that sends the transaction APIs at chosen
// versions and returns their error codes.
type txnConn struct {
	*rawConn
	corr int32
}

func (c *txnConn) roundTrip(req kmsg.Request, resp kmsg.Response) {
	c.t.Helper()
	c.corr++
	c.send(req, c.corr)
	resp.SetVersion(req.GetVersion())
	c.recv(resp, c.corr)
}

func (c *txnConn) initPID(version int16, txnID string, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(version)
	req.TransactionalID = kmsg.StringPtr(txnID)
	req.TransactionTimeoutMillis = 60000
	req.ProducerID, req.ProducerEpoch = pid, epoch
	resp := kmsg.NewPtrInitProducerIDResponse()
	c.roundTrip(req, resp)
	return resp
}

func (c *txnConn) addPartition(version int16, txnID string, pid int64, epoch int16, topic string) int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(version)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = txnID, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	c.roundTrip(req, resp)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (c *txnConn) addOffsets(version int16, txnID string, pid int64, epoch int16, group string) int16 {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.SetVersion(version)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = txnID, pid, epoch, group
	resp := kmsg.NewPtrAddOffsetsToTxnResponse()
	c.roundTrip(req, resp)
	return resp.ErrorCode
}

func (c *txnConn) endTxn(version int16, txnID string, pid int64, epoch int16, commit bool) int16 {
	req := kmsg.NewPtrEndTxnRequest()
	req.SetVersion(version)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, commit
	resp := kmsg.NewPtrEndTxnResponse()
	c.roundTrip(req, resp)
	return resp.ErrorCode
}

func (c *txnConn) txnOffsetCommit(txnID string, pid int64, epoch int16, group, topic string) int16 {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = txnID, pid, epoch, group
	req.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	c.roundTrip(req, resp)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (c *txnConn) produceTxn(txnID string, pid int64, epoch int16, topic string) int16 {
	c.t.Helper()
	b := batch(pid, epoch, 0, 1, 2)
	binary.BigEndian.PutUint16(b[21:], 0x10) // transactional
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	c.corr++
	return c.produceAs(kmsg.StringPtr(txnID), topic, b, c.corr).ErrorCode
}

// beginTxn initialises a transactional producer and adds the group's
// offsets partition to its transaction (AddOffsetsToTxn), failing the test
// on any error; it returns the producer ID and epoch.
func (c *txnConn) beginTxn(txnID, group string) (int64, int16) {
	c.t.Helper()
	init := c.initPID(4, txnID, -1, -1)
	if init.ErrorCode != 0 {
		c.t.Fatalf("InitProducerId: %s", codeName(init.ErrorCode))
	}
	if code := c.addOffsets(3, txnID, init.ProducerID, init.ProducerEpoch, group); code != 0 {
		c.t.Fatalf("AddOffsetsToTxn: %s", codeName(code))
	}
	return init.ProducerID, init.ProducerEpoch
}

func codeName(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		return err.Error()
	}
	return "no error"
}

// TestTxnFencingErrorsByVersion: a fenced producer epoch is PRODUCER_FENCED
// (KIP-588) only for clients that know that code; InitProducerId before v4
// and AddPartitionsToTxn, AddOffsetsToTxn and EndTxn before v2 get
// INVALID_PRODUCER_EPOCH instead, as Kafka's KafkaApis answers them
// (kafkajs, which speaks v0-v1 of those, otherwise sees an unknown error
// code and gives up without knowing it was fenced).
func TestTxnFencingErrorsByVersion(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("fence", 1, nil)
	c := &txnConn{rawConn: dial(t, tb.addr)}
	first := c.initPID(4, "fz", -1, -1)
	current := c.initPID(4, "fz", -1, -1) // a new incarnation fences the first
	if first.ErrorCode != 0 || current.ErrorCode != 0 || current.ProducerEpoch <= first.ProducerEpoch {
		t.Fatalf("InitProducerId: %s (epoch %d), %s (epoch %d)", codeName(first.ErrorCode), first.ProducerEpoch,
			codeName(current.ErrorCode), current.ProducerEpoch)
	}
	pid, stale := first.ProducerID, first.ProducerEpoch
	for _, tc := range []struct {
		api         string
		fencedSince int16
		maxVersion  int16
		call        func(v int16) int16
	}{
		{"AddPartitionsToTxn", 2, 3, func(v int16) int16 { return c.addPartition(v, "fz", pid, stale, "fence") }},
		{"AddOffsetsToTxn", 2, 3, func(v int16) int16 { return c.addOffsets(v, "fz", pid, stale, "g") }},
		{"EndTxn", 2, 4, func(v int16) int16 { return c.endTxn(v, "fz", pid, stale, false) }},
		{"InitProducerId", 4, 5, func(v int16) int16 { return c.initPID(v, "fz", pid, stale).ErrorCode }},
	} {
		for v := int16(0); v <= tc.maxVersion; v++ {
			if tc.api == "InitProducerId" && v < 3 {
				continue // before v3 the request carries no producer ID and epoch
			}
			want := kerr.ProducerFenced
			if v < tc.fencedSince {
				want = kerr.InvalidProducerEpoch
			}
			if got := tc.call(v); got != want.Code {
				t.Errorf("%s v%d with a fenced epoch: %s, want %s", tc.api, v, codeName(got), want.Message)
			}
		}
	}
}

// TestTxnVerificationEpochs: a transactional produce or offset commit is
// checked against the producer's transaction as Kafka's
// handleVerifyPartitionsInTransaction does: an epoch other than the
// transaction's, newer as well as older, is INVALID_PRODUCER_EPOCH, and a
// producer ID with no transaction INVALID_PRODUCER_ID_MAPPING.
func TestTxnVerificationEpochs(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("verify", 1, nil)
	c := &txnConn{rawConn: dial(t, tb.addr)}
	pid, epoch := c.beginTxn("vz", "vg")
	if code := c.addPartition(3, "vz", pid, epoch, "verify"); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %s", codeName(code))
	}

	if got := c.produceTxn("vz", pid, epoch+1, "verify"); got != kerr.InvalidProducerEpoch.Code {
		t.Errorf("produce with the epoch after the transaction's: %s, want INVALID_PRODUCER_EPOCH", codeName(got))
	}
	if got := c.produceTxn("vz", pid, epoch-1, "verify"); got != kerr.InvalidProducerEpoch.Code {
		t.Errorf("produce with the epoch before the transaction's: %s, want INVALID_PRODUCER_EPOCH", codeName(got))
	}
	for _, e := range []int16{epoch + 1, epoch - 1} {
		if got := c.txnOffsetCommit("vz", pid, e, "vg", "verify"); got != kerr.InvalidProducerEpoch.Code {
			t.Errorf("TxnOffsetCommit with epoch %d (transaction's %d): %s, want INVALID_PRODUCER_EPOCH", e, epoch, codeName(got))
		}
	}
	if got := c.txnOffsetCommit("nobody", pid+1000, 0, "vg", "verify"); got != kerr.InvalidProducerIDMapping.Code {
		t.Errorf("TxnOffsetCommit of an unknown producer: %s, want INVALID_PRODUCER_ID_MAPPING", codeName(got))
	}
	if got := c.produceTxn("nobody", pid+1000, 0, "verify"); got != kerr.InvalidProducerIDMapping.Code {
		t.Errorf("produce of an unknown transactional producer: %s, want INVALID_PRODUCER_ID_MAPPING", codeName(got))
	}

	// Nothing refused was written, and the transaction's own epoch still works.
	lo, err := tb.admin().ListEndOffsets(ctxT(t), "verify")
	if end := offsetsOf(t, lo, err, "verify")[0]; end != 0 {
		t.Errorf("end offset after the refused produces: %d, want 0", end)
	}
	if got := c.produceTxn("vz", pid, epoch, "verify"); got != 0 {
		t.Errorf("produce with the transaction's epoch: %s", codeName(got))
	}
	if got := c.txnOffsetCommit("vz", pid, epoch, "vg", "verify"); got != 0 {
		t.Errorf("TxnOffsetCommit with the transaction's epoch: %s", codeName(got))
	}
	if code := c.endTxn(3, "vz", pid, epoch, false); code != 0 {
		t.Errorf("EndTxn: %s", codeName(code))
	}
}
