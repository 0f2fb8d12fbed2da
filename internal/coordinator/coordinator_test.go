package coordinator

import (
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/twmb/franz-go/pkg/kerr"
)

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves time forward, firing due timers in time order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *fakeTimer
		for i, t := range c.timers {
			if !t.stopped && !t.at.After(end) {
				due = t
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				break
			}
		}
		if due == nil {
			break
		}
		due.stopped = true
		c.now = due.at
		c.mu.Unlock()
		due.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// memLog keeps __consumer_offsets batches in memory, so tests can replay
// them into a new coordinator as a restart would.
type memLog struct {
	mu    sync.Mutex
	parts map[int32][][]byte
}

func (m *memLog) Append(p int32, batch []byte) (func() error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.parts == nil {
		m.parts = map[int32][][]byte{}
	}
	m.parts[p] = append(m.parts[p], append([]byte(nil), batch...))
	return func() error { return nil }, nil
}

func (m *memLog) Replay(p int32, fn func(log.BatchHeader, log.Record) error) error {
	m.mu.Lock()
	batches := m.parts[p]
	m.mu.Unlock()
	for _, b := range batches {
		recs, err := log.DecodeRecords(b)
		if err != nil {
			return err
		}
		h, _ := log.ParseBatchHeader(b)
		for _, r := range recs {
			if err := fn(h, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func testCoordinator(t *testing.T, l *memLog, clock *fakeClock, topics TopicSource) *Coordinator {
	t.Helper()
	c := New(Config{NumPartitions: 5, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Hour,
		MaxGroupSize: 100}, l, topics, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func join(c *Coordinator, group, member string, proto string) <-chan JoinResult {
	return c.Join(JoinRequest{Group: group, MemberID: member, ClientID: "cl", ProtocolType: "consumer",
		Protocols: []Protocol{{Name: proto, Metadata: []byte(member)}}, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 20 * time.Second, RequireKnownMemberID: true})
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	default:
		t.Fatal("no result yet")
	}
	var zero T
	return zero
}

func TestClassicRebalance(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	c := testCoordinator(t, &memLog{}, clock, nil)

	// KIP-394: the first join hands out a member ID.
	r := recv(t, join(c, "g", "", "range"))
	if r.Err != kerr.MemberIDRequired || r.MemberID == "" {
		t.Fatalf("first join: %+v", r)
	}
	a := r.MemberID
	ra := recv(t, join(c, "g", a, "range"))
	if ra.Err != nil || ra.Generation != 1 || ra.Leader != a || len(ra.Members) != 1 {
		t.Fatalf("a joins: %+v", ra)
	}
	s := recv(t, c.Sync(SyncRequest{Group: "g", MemberID: a, Generation: 1, Assignments: map[string][]byte{a: []byte("all")}}))
	if s.Err != nil || string(s.Assignment) != "all" {
		t.Fatalf("sync: %+v", s)
	}
	// b joins: a learns of the rebalance by heartbeat and rejoins.
	b := recv(t, join(c, "g", "", "range")).MemberID
	bch := join(c, "g", b, "range")
	if err := c.Heartbeat("g", a, "", 1); err != kerr.RebalanceInProgress {
		t.Fatalf("heartbeat during rebalance: %v", err)
	}
	ra = recv(t, join(c, "g", a, "range"))
	rb := recv(t, bch)
	if ra.Generation != 2 || rb.Generation != 2 || ra.Leader != a || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("generation 2: a %+v b %+v", ra, rb)
	}
	// Stale generation is refused.
	if r := recv(t, c.Sync(SyncRequest{Group: "g", MemberID: b, Generation: 1})); r.Err != kerr.IllegalGeneration {
		t.Fatalf("stale sync: %v", r.Err)
	}
	bs := c.Sync(SyncRequest{Group: "g", MemberID: b, Generation: 2})
	select {
	case <-bs:
		t.Fatal("follower sync answered before the leader's")
	default:
	}
	recv(t, c.Sync(SyncRequest{Group: "g", MemberID: a, Generation: 2, Assignments: map[string][]byte{a: []byte("p0"), b: []byte("p1")}}))
	if got := recv(t, bs); string(got.Assignment) != "p1" {
		t.Fatalf("b got %q", got.Assignment)
	}
	// b stops heartbeating: after its session timeout it is removed and a
	// rebalance starts; a rejoins alone.
	for i := 0; i < 4; i++ {
		clock.Advance(3 * time.Second)
		if err := c.Heartbeat("g", a, "", 2); err != nil && err != kerr.RebalanceInProgress {
			t.Fatalf("a heartbeat: %v", err)
		}
	}
	if d := c.Describe("g"); d.State != PreparingRebalance || len(d.Members) != 1 {
		t.Fatalf("after b's session timeout: %+v", d)
	}
	if r := recv(t, join(c, "g", a, "range")); r.Generation != 3 || len(r.Members) != 1 {
		t.Fatalf("generation 3: %+v", r)
	}
}

func TestOffsetsPersistAndReplay(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	l := &memLog{}
	c := testCoordinator(t, l, clock, nil)
	commit := func(group string, off int64) {
		t.Helper()
		err, durable := c.Commit(CommitRequest{Group: group, Generation: -1, Version: 8,
			Offsets: map[string]map[int32]Offset{"t": {0: {Offset: off, LeaderEpoch: 3, Metadata: "m"}, 1: {Offset: off + 1}}}})
		if err != nil || durable() != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	commit("standalone", 10)
	commit("standalone", 20)
	commit("other", 5)
	// A member-less group cannot commit with a generation.
	if err, _ := c.Commit(CommitRequest{Group: "nope", Generation: 3, MemberID: "x"}); err != kerr.IllegalGeneration {
		t.Fatalf("commit to unknown group with a generation: %v", err)
	}
	// Replay into a fresh coordinator, as after a restart.
	c2 := testCoordinator(t, l, clock, nil)
	got, err := c2.Fetch("standalone", nil)
	if err != nil || len(got) != 2 || got[0].Offset.Offset != 20 || got[0].LeaderEpoch != 3 || got[0].Metadata != "m" || got[1].Offset.Offset != 21 {
		t.Fatalf("replayed offsets: %+v %v", got, err)
	}
	if err := c2.Delete("other"); err != nil {
		t.Fatal(err)
	}
	c3 := testCoordinator(t, l, clock, nil)
	if got, err := c3.Fetch("other", map[string][]int32{"t": {0}}); err != nil || got[0].Offset.Offset != -1 {
		t.Fatalf("deleted group's offset survived replay: %+v %v", got, err)
	}
	if got, err := c3.List(); err != nil || len(got) != 1 || got[0].Group != "standalone" {
		t.Fatalf("groups after delete: %+v %v", got, err)
	}
}

func TestExpireOffsets(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	l := &memLog{}
	c := testCoordinator(t, l, clock, nil)
	c.Commit(CommitRequest{Group: "s", Generation: -1, Offsets: map[string]map[int32]Offset{"t": {0: {Offset: 1}}}})
	clock.Advance(30 * time.Minute)
	c.Commit(CommitRequest{Group: "s", Generation: -1, Offsets: map[string]map[int32]Offset{"t": {1: {Offset: 2}}}})
	clock.Advance(40 * time.Minute)
	if n := c.ExpireOffsets(time.Hour); n != 1 {
		t.Fatalf("expired %d offsets, want the one committed 70 minutes ago", n)
	}
	got, err := c.Fetch("s", nil)
	if err != nil || len(got) != 1 || got[0].Partition != 1 {
		t.Fatalf("left: %+v %v", got, err)
	}
	clock.Advance(time.Hour)
	c.ExpireOffsets(time.Hour)
	if gs, err := c.List(); err != nil || len(gs) != 0 {
		t.Fatalf("a group without offsets or members should be gone: %+v %v", gs, err)
	}
	// Expiry is persisted.
	c2 := testCoordinator(t, l, clock, nil)
	if gs, err := c2.List(); err != nil || len(gs) != 0 {
		t.Fatalf("after replay: %+v %v", gs, err)
	}
}

func TestConsumerGroupReconciliation(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	topicID := [16]byte{1}
	topics := func() map[string]TopicInfo { return map[string]TopicInfo{"t": {ID: topicID, Partitions: 4}} }
	c := testCoordinator(t, &memLog{}, clock, topics)
	names := func(id [16]byte) (string, bool) { return "t", id == topicID }
	hb := func(member string, epoch int32, owned []int32) HeartbeatResult {
		req := HeartbeatRequest{Group: "g", MemberID: member, MemberEpoch: epoch, RebalanceTimeout: -1,
			SessionTimeout: 10 * time.Second, TopicNamesByID: names}
		if epoch == 0 {
			req.SubscribedTopicNames = []string{"t"}
		}
		if owned != nil {
			req.Owned = map[[16]byte][]int32{topicID: owned}
		}
		return c.ConsumerHeartbeat(req)
	}
	a := hb("a", 0, []int32{})
	if a.Err != nil || a.Epoch <= 0 || len(a.Assignment[topicID]) != 4 {
		t.Fatalf("a alone: %+v", a)
	}
	b := hb("b", 0, []int32{})
	if b.Err != nil || len(b.Assignment[topicID]) != 0 {
		t.Fatalf("b must wait until a revokes: %+v", b)
	}
	// a is told to keep only its share; its epoch stays until it confirms.
	first := a.Epoch
	a = hb("a", first, []int32{0, 1, 2, 3})
	if len(a.Assignment[topicID]) != 2 || a.Epoch != first {
		t.Fatalf("a revoking: %+v", a)
	}
	a = hb("a", first, a.Assignment[topicID])
	if a.Epoch <= first {
		t.Fatalf("a after revoking: %+v", a)
	}
	b = hb("b", b.Epoch, []int32{})
	if b.Epoch != a.Epoch || len(b.Assignment[topicID]) != 2 {
		t.Fatalf("b after a revoked: %+v", b)
	}
	all := append(append([]int32{}, a.Assignment[topicID]...), b.Assignment[topicID]...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) != 4 || all[0] != 0 || all[3] != 3 {
		t.Fatalf("partitions not split: a %v b %v", a.Assignment, b.Assignment)
	}
	// A wrong epoch is fenced.
	if r := hb("a", a.Epoch+5, nil); r.Err != kerr.FencedMemberEpoch {
		t.Fatalf("wrong epoch: %v", r.Err)
	}
	// b's session expires: a gets everything back.
	for i := 0; i < 4; i++ {
		clock.Advance(3 * time.Second)
		a = hb("a", a.Epoch, nil)
	}
	if len(a.Assignment[topicID]) != 4 {
		t.Fatalf("after b expired a has %v", a.Assignment)
	}
}

func TestPartitionForMatchesKafka(t *testing.T) {
	// Java: Math.abs("my-group".hashCode()) % 50 and friends.
	for key, want := range map[string]int32{"my-group": javaMod("my-group", 50), "": 0} {
		if got := partitionFor(key, 50); got != want {
			t.Errorf("partitionFor(%q) = %d, want %d", key, got, want)
		}
	}
	// "polygenelubricants".hashCode() == Integer.MIN_VALUE: Kafka maps it to 0.
	if got := partitionFor("polygenelubricants", 50); got != 0 {
		t.Errorf("MIN_VALUE hash: %d", got)
	}
}

// javaMod recomputes String.hashCode independently of partitionFor's loop.
func javaMod(s string, n int32) int32 {
	var h uint32
	for _, r := range s {
		h = h*31 + uint32(r)
	}
	v := int32(h)
	if v < 0 {
		v = -v
	}
	return v % n
}

// TestMemberValidationMatchesKafka: Heartbeat, SyncGroup and OffsetCommit
// decide who a request comes from as Kafka's ClassicGroup.validateMember
// does. An instance ID no static member holds is UNKNOWN_MEMBER_ID (a
// dynamic member sending one is not fenced); one held under another member
// ID is FENCED_INSTANCE_ID; a static member sending no instance ID is known
// by its member ID.
func TestMemberValidationMatchesKafka(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	c := testCoordinator(t, &memLog{}, clock, nil)
	dyn := recv(t, join(c, "g", "", "range")).MemberID
	recv(t, join(c, "g", dyn, "range"))
	static := JoinRequest{Group: "g", InstanceID: "i1", ClientID: "cl", ProtocolType: "consumer",
		Protocols: []Protocol{{Name: "range", Metadata: []byte("s")}}, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 20 * time.Second, RequireKnownMemberID: true}
	sch := c.Join(static)
	recv(t, join(c, "g", dyn, "range")) // the leader rejoins; the rebalance completes
	st := recv(t, sch)
	if st.Err != nil {
		t.Fatalf("static member join: %v", st.Err)
	}
	gen := st.Generation
	recv(t, c.Sync(SyncRequest{Group: "g", MemberID: dyn, Generation: gen, Assignments: map[string][]byte{dyn: nil, st.MemberID: nil}}))
	if d := c.Describe("g"); d.State != Stable {
		t.Fatalf("group %v, want stable", d.State)
	}
	for _, tc := range []struct {
		name               string
		member, instance   string
		wantHB, wantCommit *kerr.Error
	}{
		{"dynamic member with an instance ID", dyn, "i9", kerr.UnknownMemberID, kerr.UnknownMemberID},
		{"instance held by another member", dyn, "i1", kerr.FencedInstanceID, kerr.FencedInstanceID},
		{"static member without its instance ID", st.MemberID, "", nil, nil},
		{"static member with its instance ID", st.MemberID, "i1", nil, nil},
		{"unknown member, no instance", "nobody", "", kerr.UnknownMemberID, kerr.UnknownMemberID},
	} {
		if err := c.Heartbeat("g", tc.member, tc.instance, gen); err != tc.wantHB {
			t.Errorf("%s: heartbeat %v, want %v", tc.name, err, tc.wantHB)
		}
		err, _ := c.Commit(CommitRequest{Group: "g", MemberID: tc.member, InstanceID: tc.instance, Generation: gen,
			Offsets: map[string]map[int32]Offset{"t": {0: {Offset: 1}}}, Version: 8})
		if err != tc.wantCommit {
			t.Errorf("%s: commit %v, want %v", tc.name, err, tc.wantCommit)
		}
		if r := recv(t, c.Sync(SyncRequest{Group: "g", MemberID: tc.member, InstanceID: tc.instance, Generation: gen + 1})); tc.wantHB != nil && r.Err != tc.wantHB {
			t.Errorf("%s: sync %v, want %v", tc.name, r.Err, tc.wantHB)
		}
	}
}

// TestCommitValidationMatchesKafka: OffsetCommit and TxnOffsetCommit are
// checked against their group as Kafka's OffsetMetadataManager and the
// groups' validateOffsetCommit check them. In particular a generation of -1
// commits to an empty or missing group whatever member ID comes with it
// (librdkafka sends the one it made up at start), as Kafka allows.
func TestCommitValidationMatchesKafka(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	topicID := [16]byte{7}
	topics := func() map[string]TopicInfo { return map[string]TopicInfo{"t": {ID: topicID, Partitions: 2}} }
	c := testCoordinator(t, &memLog{}, clock, topics)

	// "classic": a stable classic group with one member; "emptied": a
	// classic group whose only member left; "kip848": a consumer group
	// with one member; "kip848-empty": one whose member left.
	m := recv(t, join(c, "classic", "", "range")).MemberID
	r := recv(t, join(c, "classic", m, "range"))
	recv(t, c.Sync(SyncRequest{Group: "classic", MemberID: m, Generation: r.Generation, Assignments: map[string][]byte{m: nil}}))
	gen := r.Generation
	e := recv(t, join(c, "emptied", "", "range")).MemberID
	recv(t, join(c, "emptied", e, "range"))
	if err, _ := c.Leave("emptied", []LeaveMember{{MemberID: e}}); err != nil {
		t.Fatal(err)
	}
	names := func(id [16]byte) (string, bool) { return "t", id == topicID }
	hb := func(group, member string, epoch int32) HeartbeatResult {
		req := HeartbeatRequest{Group: group, MemberID: member, MemberEpoch: epoch, RebalanceTimeout: -1,
			SessionTimeout: 10 * time.Second, TopicNamesByID: names, SubscribedTopicNames: []string{"t"}}
		return c.ConsumerHeartbeat(req)
	}
	k := hb("kip848", "k1", 0)
	if k.Err != nil {
		t.Fatal(k.Err)
	}
	if r := hb("kip848-empty", "k2", 0); r.Err != nil || hb("kip848-empty", "k2", -1).Err != nil {
		t.Fatalf("kip848-empty: %+v", r)
	}
	for g, want := range map[string]GroupState{"classic": Stable, "emptied": Empty, "kip848": Stable, "kip848-empty": Empty} {
		if got := c.Describe(g).State; got != want {
			t.Fatalf("group %s is %v, want %v", g, got, want)
		}
	}

	const made = "rdkafka-1b2c" // a member ID a client made up, never joined
	for _, tc := range []struct {
		name, group, member string
		gen                 int32
		version             int16
		want, wantTxn       *kerr.Error
	}{
		{"missing group, -1, made-up member", "new1", made, -1, 9, nil, nil},
		{"missing group with a generation, v8", "new2", "x", 3, 8, kerr.IllegalGeneration, kerr.IllegalGeneration},
		{"missing group with a generation, v9", "new3", "x", 3, 9, kerr.GroupIDNotFound, kerr.IllegalGeneration},
		{"emptied classic group, -1, made-up member", "emptied", made, -1, 9, nil, nil},
		{"stable classic group, -1, no member", "classic", "", -1, 8, kerr.UnknownMemberID, nil},
		{"stable classic group, -1, made-up member", "classic", made, -1, 8, kerr.UnknownMemberID, kerr.UnknownMemberID},
		{"stable classic group, member, -1", "classic", m, -1, 8, kerr.IllegalGeneration, kerr.IllegalGeneration},
		{"stable classic group, member, generation", "classic", m, gen, 8, nil, nil},
		{"consumer group, -1, made-up member", "kip848", made, -1, 9, kerr.UnknownMemberID, kerr.UnknownMemberID},
		{"consumer group, -1, no member", "kip848", "", -1, 9, kerr.UnknownMemberID, nil},
		{"consumer group, member, stale epoch", "kip848", "k1", k.Epoch - 1, 9, kerr.StaleMemberEpoch, kerr.IllegalGeneration},
		{"consumer group, member, v8", "kip848", "k1", k.Epoch, 8, kerr.UnsupportedVersion, nil},
		{"consumer group, member, epoch", "kip848", "k1", k.Epoch, 9, nil, nil},
		{"emptied consumer group, -1, made-up member", "kip848-empty", made, -1, 9, nil, nil},
	} {
		offsets := map[string]map[int32]Offset{"t": {0: {Offset: 1}}}
		err, _ := c.Commit(CommitRequest{Group: tc.group, MemberID: tc.member, Generation: tc.gen, Version: tc.version, Offsets: offsets})
		if err != tc.want {
			t.Errorf("%s: OffsetCommit %v, want %v", tc.name, err, tc.want)
		}
		err, _ = c.TxnCommit(TxnCommitRequest{Group: tc.group, MemberID: tc.member, Generation: tc.gen,
			ProducerID: 1, Offsets: offsets})
		if err != tc.wantTxn {
			t.Errorf("%s: TxnOffsetCommit %v, want %v", tc.name, err, tc.wantTxn)
		}
	}
}

// TestStaticRejoinKeepsStableGroup: a static member (KIP-345) that restarts
// and rejoins a stable group with an unknown member ID takes its old place
// without a rebalance, whether it led the group or not, as Kafka's
// updateStaticMemberAndRebalance: a rolling restart must not stop the group
// each time it reaches the leader. From JoinGroup v9 the leader is told it
// leads but must skip assignment (KIP-814); before, it is given its old
// member ID as the leader's, so it does not assign. Only a change of the
// group's protocol rebalances. The new member ID is written, so it
// survives a restart of the coordinator.
func TestStaticRejoinKeepsStableGroup(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	l := &memLog{}
	c := testCoordinator(t, l, clock, nil)
	static := func(instance, member string, skip bool, protos ...string) <-chan JoinResult {
		req := JoinRequest{Group: "g", MemberID: member, InstanceID: instance, ClientID: "cl", ProtocolType: "consumer",
			SessionTimeout: 10 * time.Second, RebalanceTimeout: 20 * time.Second, RequireKnownMemberID: true, SkipAssignment: skip}
		for _, p := range protos {
			req.Protocols = append(req.Protocols, Protocol{Name: p, Metadata: []byte(instance)})
		}
		return c.Join(req)
	}
	ach := static("a", "", true, "range", "roundrobin")
	a := recv(t, ach) // the group's first member: the rebalance completes at once
	bch := static("b", "", true, "range", "roundrobin")
	a = recv(t, static("a", a.MemberID, true, "range", "roundrobin"))
	b := recv(t, bch)
	if a.Err != nil || b.Err != nil || a.Leader != a.MemberID || a.Generation != b.Generation {
		t.Fatalf("joins: a %+v, b %+v", a, b)
	}
	gen := a.Generation
	recv(t, c.Sync(SyncRequest{Group: "g", MemberID: a.MemberID, Generation: gen,
		Assignments: map[string][]byte{a.MemberID: []byte("A"), b.MemberID: []byte("B")}}))
	recv(t, c.Sync(SyncRequest{Group: "g", MemberID: b.MemberID, Generation: gen}))

	stable := func(when string) {
		t.Helper()
		if d := c.Describe("g"); d.State != Stable {
			t.Fatalf("%s: group %v, want Stable", when, d.State)
		}
	}
	stable("after the first generation")

	// The leader restarts (JoinGroup v9+): same generation, told to skip.
	a2 := recv(t, static("a", "", true, "range", "roundrobin"))
	if a2.Err != nil || a2.Generation != gen || a2.MemberID == a.MemberID || a2.Leader != a2.MemberID ||
		!a2.SkipAssignment || len(a2.Members) != 2 {
		t.Fatalf("leader rejoin v9: %+v", a2)
	}
	stable("after the leader rejoined (v9)")
	if r := recv(t, c.Sync(SyncRequest{Group: "g", MemberID: a2.MemberID, Generation: gen})); r.Err != nil || string(r.Assignment) != "A" {
		t.Fatalf("leader's sync after rejoin: %+v", r)
	}
	// ... and with JoinGroup v8: the leader named is its old member ID.
	a3 := recv(t, static("a", "", false, "range", "roundrobin"))
	if a3.Err != nil || a3.Generation != gen || a3.Leader != a2.MemberID || a3.SkipAssignment || len(a3.Members) != 0 {
		t.Fatalf("leader rejoin v8: %+v", a3)
	}
	stable("after the leader rejoined (v8)")
	// A follower restarts.
	b2 := recv(t, static("b", "", true, "range", "roundrobin"))
	if b2.Err != nil || b2.Generation != gen || b2.Leader != a3.MemberID || b2.SkipAssignment || len(b2.Members) != 0 {
		t.Fatalf("follower rejoin: %+v", b2)
	}
	stable("after the follower rejoined")
	if r := recv(t, c.Sync(SyncRequest{Group: "g", MemberID: b2.MemberID, Generation: gen})); r.Err != nil || string(r.Assignment) != "B" {
		t.Fatalf("follower's sync after rejoin: %+v", r)
	}
	// The old member IDs are gone; the new ones hold after a replay.
	if err := c.Heartbeat("g", b.MemberID, "", gen); err != kerr.UnknownMemberID {
		t.Fatalf("heartbeat of the replaced member ID: %v", err)
	}
	c2 := testCoordinator(t, l, clock, nil)
	d := c2.Describe("g")
	ids := map[string]bool{}
	for _, m := range d.Members {
		ids[m.MemberID] = true
	}
	if !ids[a3.MemberID] || !ids[b2.MemberID] || len(ids) != 2 {
		t.Fatalf("members after replay: %+v, want %s and %s", d.Members, a3.MemberID, b2.MemberID)
	}

	// A rejoin that would change the group's protocol rebalances.
	ch := static("b", "", true, "roundrobin")
	if d := c.Describe("g"); d.State != PreparingRebalance {
		t.Fatalf("after a protocol change: group %v, want PreparingRebalance", d.State)
	}
	select {
	case r := <-ch:
		t.Fatalf("the rejoin that changes the protocol was answered before the rebalance: %+v", r)
	default:
	}
}

// TestTopicDeletedBeforeLoad: a topic deleted while the coordinator is still
// to replay __consumer_offsets loses its offsets once the replay is done,
// and the tombstones make the next replay agree.
func TestTopicDeletedBeforeLoad(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	l := &memLog{}
	c := testCoordinator(t, l, clock, nil)
	err, durable := c.Commit(CommitRequest{Group: "g", Generation: -1, Version: 8,
		Offsets: map[string]map[int32]Offset{"gone": {0: {Offset: 7}}, "kept": {0: {Offset: 9}}}})
	if err != nil || durable() != nil {
		t.Fatalf("commit: %v", err)
	}

	fresh := New(Config{NumPartitions: 5, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Hour, MaxGroupSize: 100},
		l, nil, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(fresh.Close)
	fresh.TopicDeleted("gone") // before Load
	if err := fresh.Load(); err != nil {
		t.Fatal(err)
	}
	for _, co := range []*Coordinator{fresh, testCoordinator(t, l, clock, nil)} {
		got, err := co.Fetch("g", map[string][]int32{"gone": {0}, "kept": {0}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("fetch of 2 partitions: %d answers", len(got))
		}
		for _, o := range got {
			want := map[string]int64{"gone": -1, "kept": 9}[o.Topic]
			if o.Offset.Offset != want {
				t.Errorf("%s-0: offset %d, want %d", o.Topic, o.Offset.Offset, want)
			}
		}
	}
}
