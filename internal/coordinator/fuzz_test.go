package coordinator

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fuzzing the replay of the internal topics: __consumer_offsets and
// __transaction_state are read back at every start, and whatever a damaged
// or foreign data directory holds there must give an error or a usable
// coordinator, never a panic, then or when the restored state is used.

// fuzzFlags says how a fuzzed record is written: bit 0 a nil value
// (tombstone), bit 1 a transactional batch, bit 2 a control batch, bit 3 a
// second, valid offset commit after it.
const (
	fuzzNilValue = 1 << iota
	fuzzTransactional
	fuzzControl
	fuzzThenValid
)

func fuzzBatch(key, value []byte, flags uint8) []byte {
	if flags&fuzzNilValue != 0 {
		value = nil
	}
	recs := []log.Record{{Key: key, Value: value}}
	if flags&fuzzThenValid != 0 {
		recs = append(recs, log.Record{Key: offsetKey("g", "t", 0), Value: offsetValue(Offset{Offset: 5, LeaderEpoch: -1})})
	}
	spec := log.BatchSpec{Timestamp: 1_700_000_000_000, ProducerID: -1, ProducerEpoch: -1}
	if flags&(fuzzTransactional|fuzzControl) != 0 {
		spec.ProducerID, spec.ProducerEpoch = 7, 0
		spec.Transactional = true
		spec.Control = flags&fuzzControl != 0
	}
	return log.EncodeBatch(spec, recs)
}

// replaySeeds are records of every kind the coordinator writes or skips.
func replaySeeds() []struct{ key, value []byte } {
	str := func(s string) *string { return &s }
	gv := kmsg.NewGroupMetadataValue()
	gv.Version, gv.ProtocolType, gv.Generation, gv.Protocol, gv.Leader = 3, "consumer", 4, str("range"), str("m1")
	for _, id := range []string{"m1", "m2"} {
		m := kmsg.NewGroupMetadataValueMember()
		m.MemberID, m.ClientID, m.ClientHost, m.InstanceID = id, "c", "/127.0.0.1", str("i-"+id)
		m.SessionTimeoutMillis, m.RebalanceTimeoutMillis = 10_000, 30_000
		m.Subscription, m.Assignment = []byte{0, 1, 0, 0}, []byte{0, 1, 0, 0, 0, 1}
		gv.Members = append(gv.Members, m)
	}
	cg, _ := json.Marshal(consumerGroupRecord{Epoch: 3, Assignor: "uniform", Members: []consumerMemberRecord{
		{ID: "a", ClientID: "c", Epoch: 3, Subscribed: []string{"t"}, RebalanceTimeout: 1000, Assigned: map[string][]int32{"t": {0, 1}}},
		{ID: "b", Epoch: 2, Regex: "t.*", Assigned: map[string][]int32{"t": {2}}},
	}})
	return []struct{ key, value []byte }{
		{offsetKey("g", "t", 0), offsetValue(Offset{Offset: 42, LeaderEpoch: 3, Metadata: "m", CommitTime: 1})},
		{groupKey("g"), gv.AppendTo(nil)},
		{consumerGroupKey("g"), cg},
		{[]byte{0, 0, 0, 0}, []byte{0, 1}}, // a control record's key (version, type)
		{[]byte{0x7f, 0x7f}, []byte("unknown key version")},
	}
}

// TestReplaySeedsLoad checks that the fuzz seeds are what they claim: each
// of the first three restores group g.
func TestReplaySeedsLoad(t *testing.T) {
	for i, seed := range replaySeeds()[:3] {
		l := &memLog{}
		if _, err := l.Append(0, fuzzBatch(seed.key, seed.value, 0)); err != nil {
			t.Fatal(err)
		}
		c := testCoordinator(t, l, &fakeClock{now: time.Unix(1_700_000_000, 0)}, nil)
		groups, _ := c.List()
		if len(groups) != 1 || groups[0].Group != "g" {
			t.Fatalf("seed %d: groups %+v", i, groups)
		}
	}
}

func FuzzCoordinatorReplay(f *testing.F) {
	for _, seed := range replaySeeds() {
		for _, flags := range []uint8{0, fuzzNilValue, fuzzTransactional | fuzzThenValid, fuzzControl} {
			f.Add(seed.key, seed.value, flags)
		}
	}
	f.Fuzz(func(t *testing.T, key, value []byte, flags uint8) {
		l := &memLog{}
		if _, err := l.Append(0, fuzzBatch(key, value, flags)); err != nil {
			t.Fatal(err)
		}
		clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
		c := New(Config{NumPartitions: 1, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Hour,
			MaxGroupSize: 100, ConsumerSessionTimeout: 45 * time.Second}, l, nil, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
		defer c.Close()
		if err := c.Load(); err != nil {
			return // refused: the broker reports it and does not serve the groups
		}
		// Use what was restored as a client and the timers would.
		groups, _ := c.List()
		for _, g := range groups {
			c.Describe(g.Group)
			c.DescribeConsumerGroup(g.Group)
			c.Fetch(g.Group, nil)
			c.Heartbeat(g.Group, "m1", "", 4)
		}
		clock.Advance(2 * time.Hour) // restored sessions expire
		c.ExpireOffsets(time.Minute)
		for _, g := range groups {
			c.Describe(g.Group)
			c.Delete(g.Group)
		}
	})
}

type nopMarkers struct{}

func (nopMarkers) WriteMarkers(int64, int16, bool, []TxnPartition) error { return nil }

func FuzzTxnCoordinatorReplay(f *testing.F) {
	key := kmsg.NewTxnMetadataKey()
	key.Version, key.TransactionalID = 0, "tx"
	for _, code := range txnStateCodes {
		v := kmsg.NewTxnMetadataValue()
		v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State = 9, 1, 60_000, code
		v.StartTimestamp, v.LastUpdateTimestamp = 1_700_000_000_000, 1_700_000_000_000
		tp := kmsg.NewTxnMetadataValueTopic()
		tp.Topic, tp.Partitions = "t", []int32{0, 3}
		v.Topics = append(v.Topics, tp)
		f.Add(key.AppendTo(nil), v.AppendTo(nil), uint8(0))
	}
	f.Add(key.AppendTo(nil), []byte{}, uint8(fuzzNilValue))
	f.Fuzz(func(t *testing.T, key, value []byte, flags uint8) {
		l := &memLog{}
		if _, err := l.Append(0, fuzzBatch(key, value, flags&fuzzNilValue)); err != nil {
			t.Fatal(err)
		}
		clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
		pid := int64(100)
		tc := NewTxnCoordinator(TxnConfig{NumPartitions: 1, MaxTimeout: 15 * time.Minute}, l, nopMarkers{},
			func() (int64, error) { pid++; return pid, nil }, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := tc.Load(); err != nil {
			return
		}
		txns, _ := tc.List()
		for _, d := range txns {
			tc.Describe(d.ID)
			tc.InitProducerID(d.ID, time.Minute, -1, -1)
		}
		clock.Advance(time.Hour)
		tc.AbortTimedOut()
	})
}
