package e2e

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestDeletedTopicLosesCommittedOffsets: deleting a topic removes every
// group's committed offsets of it, and the offsets an open transaction
// holds for it, as Kafka's coordinator does; a topic created again under
// the same name starts with none, also after a restart (the tombstones are
// in __consumer_offsets). Offsets of other topics stay. (sarama's
// functional suite re-creates its topics on every run and found a group
// resuming the new topic from the old topic's offsets.)
func TestDeletedTopicLosesCommittedOffsets(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("gone", 2, nil)
	tb.createTopic("kept", 1, nil)
	adm := tb.admin()
	commit := func(group string, os kadm.Offsets) {
		t.Helper()
		resp, err := adm.CommitOffsets(ctxT(t), group, os)
		if err != nil || resp.Error() != nil {
			t.Fatalf("commit %s: %v %v", group, err, resp.Error())
		}
	}
	at := func(topic string, p int32, o int64) kadm.Offset {
		return kadm.Offset{Topic: topic, Partition: p, At: o}
	}
	commit("a", kadm.Offsets{"gone": {0: at("gone", 0, 42), 1: at("gone", 1, 7)}, "kept": {0: at("kept", 0, 5)}})
	commit("b", kadm.Offsets{"gone": {1: at("gone", 1, 9)}})

	// An open transaction holding an offset of the topic for group c.
	c := &txnConn{rawConn: dial(t, tb.addr)}
	pid, epoch := c.beginTxn("tx", "c")
	for _, topic := range []string{"gone", "kept"} {
		if code := c.txnOffsetCommit("tx", pid, epoch, "c", topic); code != 0 {
			t.Fatalf("TxnOffsetCommit of %s: %s", topic, codeName(code))
		}
	}

	if _, err := adm.DeleteTopic(ctxT(t), "gone"); err != nil {
		t.Fatal(err)
	}
	if code := c.endTxn(3, "tx", pid, epoch, true); code != 0 {
		t.Fatalf("EndTxn: %s", codeName(code))
	}
	tb.createTopic("gone", 2, nil)

	check := func(tb *testBroker, when string) {
		t.Helper()
		adm := tb.admin()
		for _, g := range []string{"a", "b", "c"} {
			fetched, err := adm.FetchOffsets(ctxT(t), g)
			if err != nil {
				t.Fatalf("%s: fetch %s: %v", when, g, err)
			}
			for p := int32(0); p < 2; p++ {
				if o, ok := fetched.Lookup("gone", p); ok && o.At >= 0 {
					t.Errorf("%s: group %s still has offset %d for gone-%d", when, g, o.At, p)
				}
			}
			want := map[string]int64{"a": 5, "c": 1}[g] // c's from its committed transaction
			if o, ok := fetched.Lookup("kept", 0); want > 0 && (!ok || o.At != want) {
				t.Errorf("%s: group %s's offset of kept-0 = %+v, want %d", when, g, o, want)
			}
		}
	}
	check(tb, "after the delete")
	check(tb.restart(nil), "after a restart")
}
