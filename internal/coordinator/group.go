package coordinator

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupState is a classic group's state (Kafka's names).
type GroupState string

// The classic group states.
const (
	Empty               GroupState = "Empty"
	PreparingRebalance  GroupState = "PreparingRebalance"
	CompletingRebalance GroupState = "CompletingRebalance"
	Stable              GroupState = "Stable"
	Dead                GroupState = "Dead"
)

type topicPartition struct {
	topic     string
	partition int32
}

// Offset is a committed offset.
type Offset struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  int64
}

// Protocol is one assignment protocol a member supports.
type Protocol struct {
	Name     string
	Metadata []byte
}

type member struct {
	id, instanceID       string
	clientID, clientHost string
	sessionTimeout       time.Duration
	rebalanceTimeout     time.Duration
	protocolType         string
	protocols            []Protocol
	assignment           []byte
	joinCh               chan JoinResult // non-nil while awaiting a join response
	syncCh               chan SyncResult // non-nil while awaiting a sync response
	session              Timer
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

type group struct {
	c            *Coordinator
	id           string
	state        GroupState
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	pending      map[string]Timer // KIP-394: member IDs handed out, not yet joined
	offsets      map[topicPartition]Offset
	joinTimer    Timer
	initialDelay bool // the initial rebalance delay of an empty group is running
	stateTime    time.Time
	consumer     *consumerState // non-nil for a KIP-848 consumer group
}

func newGroup(c *Coordinator, id string) *group {
	return &group{c: c, id: id, state: Empty, members: make(map[string]*member),
		pending: make(map[string]Timer), offsets: make(map[topicPartition]Offset), stateTime: c.clock.Now()}
}

func (g *group) transition(s GroupState) {
	g.state = s
	g.stateTime = g.c.clock.Now()
}

func (g *group) stopTimers() {
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			if m.session != nil {
				m.session.Stop()
			}
		}
	}
	if g.joinTimer != nil {
		g.joinTimer.Stop()
	}
	for _, m := range g.members {
		if m.session != nil {
			m.session.Stop()
		}
	}
	for _, t := range g.pending {
		t.Stop()
	}
}

// JoinRequest is a JoinGroup request in the coordinator's terms.
type JoinRequest struct {
	Group, MemberID, InstanceID string
	ClientID, ClientHost        string
	ProtocolType                string
	Protocols                   []Protocol
	SessionTimeout              time.Duration
	RebalanceTimeout            time.Duration
	RequireKnownMemberID        bool // JoinGroup v4+ (KIP-394)
	SkipAssignment              bool // JoinGroup v9+ (KIP-814) can tell a leader to skip assignment
}

// JoinMember is a member as the leader sees it in its join response.
type JoinMember struct {
	MemberID, InstanceID string
	Metadata             []byte
}

// JoinResult is the answer to a join.
type JoinResult struct {
	Err          *kerr.Error
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	MemberID     string
	Members      []JoinMember // only for the leader
	// SkipAssignment tells a static leader that rejoined a stable group
	// that it leads but must not assign (KIP-814, JoinGroup v9+).
	SkipAssignment bool
}

func joinErr(err *kerr.Error, memberID string) chan JoinResult {
	ch := make(chan JoinResult, 1)
	ch <- JoinResult{Err: err, MemberID: memberID, Generation: -1}
	return ch
}

// Join handles JoinGroup. The result arrives on the channel when the
// rebalance completes (or at once for errors).
func (c *Coordinator) Join(req JoinRequest) <-chan JoinResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.loaded:
		return joinErr(kerr.CoordinatorLoadInProgress, req.MemberID)
	case req.Group == "":
		return joinErr(kerr.InvalidGroupID, req.MemberID)
	case req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout:
		return joinErr(kerr.InvalidSessionTimeout, req.MemberID)
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return joinErr(kerr.InconsistentGroupProtocol, req.MemberID)
	}
	g := c.groups[req.Group]
	if g == nil {
		if req.MemberID != "" && req.InstanceID == "" {
			return joinErr(kerr.UnknownMemberID, req.MemberID)
		}
		g = c.getOrCreate(req.Group)
	}
	if g.state == Dead {
		return joinErr(kerr.CoordinatorNotAvailable, req.MemberID)
	}
	if g.consumer != nil {
		if len(g.consumer.members) > 0 {
			return joinErr(kerr.InconsistentGroupProtocol, req.MemberID)
		}
		g.consumer = nil // an empty consumer group becomes classic again
		g.protocolType = ""
	}
	if !g.supports(req.ProtocolType, req.Protocols) {
		return joinErr(kerr.InconsistentGroupProtocol, req.MemberID)
	}
	if req.MemberID == "" {
		return g.joinNew(req)
	}
	return g.joinKnown(req)
}

// supports: an empty group takes any protocol; otherwise the type must match
// and at least one protocol must be supported by every member.
func (g *group) supports(protocolType string, protocols []Protocol) bool {
	if len(g.members) == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		all := true
		for _, m := range g.members {
			if !hasProtocol(m, p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func hasProtocol(m *member, name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:])
	return clientID + "-" + hex.EncodeToString(b[:])
}

func (g *group) staticMember(instanceID string) *member {
	if instanceID == "" {
		return nil
	}
	for _, m := range g.members {
		if m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// member returns the member a Heartbeat, SyncGroup or offset commit comes
// from, as Kafka's ClassicGroup.validateMember decides it: a request naming
// an instance ID must come from that static member's current member ID
// (FENCED_INSTANCE_ID when another holds it, UNKNOWN_MEMBER_ID when no one
// does); one naming none needs only a known member ID.
func (g *group) member(memberID, instanceID string) (*member, *kerr.Error) {
	if instanceID != "" {
		switch m := g.staticMember(instanceID); {
		case m == nil:
			return nil, kerr.UnknownMemberID
		case m.id != memberID:
			return nil, kerr.FencedInstanceID
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID
	}
	return m, nil
}

func (g *group) joinNew(req JoinRequest) <-chan JoinResult {
	if old := g.staticMember(req.InstanceID); old != nil {
		return g.replaceStatic(old, req)
	}
	if g.c.cfg.MaxGroupSize > 0 && len(g.members)+len(g.pending) >= g.c.cfg.MaxGroupSize {
		return joinErr(kerr.GroupMaxSizeReached, "")
	}
	id := newMemberID(req.ClientID)
	if req.RequireKnownMemberID && req.InstanceID == "" {
		// KIP-394: hand out the ID; the member joins again with it.
		g.pending[id] = g.c.clock.AfterFunc(req.SessionTimeout, func() {
			g.c.mu.Lock()
			defer g.c.mu.Unlock()
			delete(g.pending, id)
			g.maybeCompleteJoin()
		})
		return joinErr(kerr.MemberIDRequired, id)
	}
	return g.addAndRebalance(id, req)
}

func (g *group) joinKnown(req JoinRequest) <-chan JoinResult {
	if t, ok := g.pending[req.MemberID]; ok {
		t.Stop()
		delete(g.pending, req.MemberID)
		return g.addAndRebalance(req.MemberID, req)
	}
	m := g.members[req.MemberID]
	if m == nil {
		if old := g.staticMember(req.InstanceID); old != nil {
			return joinErr(kerr.FencedInstanceID, req.MemberID)
		}
		return joinErr(kerr.UnknownMemberID, req.MemberID)
	}
	if m.instanceID != req.InstanceID {
		return joinErr(kerr.FencedInstanceID, req.MemberID)
	}
	ch := make(chan JoinResult, 1)
	switch g.state {
	case PreparingRebalance:
		g.updateMember(m, req, ch)
		g.maybeCompleteJoin()
	case CompletingRebalance:
		if sameProtocols(m.protocols, req.Protocols) {
			// A retried join of this generation: answer it again.
			ch <- g.joinResult(m)
			return ch
		}
		g.updateMember(m, req, ch)
		g.prepareRebalance()
	case Stable:
		if m.id == g.leader || !sameProtocols(m.protocols, req.Protocols) {
			g.updateMember(m, req, ch)
			g.prepareRebalance()
		} else {
			ch <- g.joinResult(m)
		}
	default: // Empty: a known member of an empty group cannot exist
		return joinErr(kerr.UnknownMemberID, req.MemberID)
	}
	return ch
}

func sameProtocols(a, b []Protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Metadata) != string(b[i].Metadata) {
			return false
		}
	}
	return true
}

// replaceStatic gives a static member (KIP-345) that rejoins without its
// member ID a new one; the old ID is fenced.
func (g *group) replaceStatic(old *member, req JoinRequest) <-chan JoinResult {
	newID := newMemberID(req.ClientID)
	if old.joinCh != nil {
		old.joinCh <- JoinResult{Err: kerr.FencedInstanceID, MemberID: old.id, Generation: -1}
		old.joinCh = nil
	}
	if old.syncCh != nil {
		old.syncCh <- SyncResult{Err: kerr.FencedInstanceID}
		old.syncCh = nil
	}
	delete(g.members, old.id)
	leaderBefore := g.leader
	if g.leader == old.id {
		g.leader = newID
	}
	old.id = newID
	g.members[newID] = old
	ch := make(chan JoinResult, 1)
	g.updateMember(old, req, ch)
	switch g.state {
	case Stable:
		if g.selectProtocol() != g.protocol {
			g.prepareRebalance() // the group's protocol would change
			break
		}
		// As Kafka (updateStaticMemberAndRebalance): the assignment
		// stands, leader or not; keep the new member ID and hand back
		// the current generation. A leader told it leads would assign
		// again, which a stable group ignores: from JoinGroup v9 it is
		// told to skip assignment (KIP-814); before, it is given the
		// leader's old member ID, which is not its own.
		old.joinCh = nil
		g.persist()
		r := g.joinResult(old)
		if req.SkipAssignment {
			r.SkipAssignment = g.leader == old.id
		} else {
			r.Leader, r.Members = leaderBefore, nil
		}
		ch <- r
	case PreparingRebalance:
		g.maybeCompleteJoin()
	default:
		// CompletingRebalance: the leader may be assigning with the old
		// member ID, so the assignment would miss the new one.
		g.prepareRebalance()
	}
	return ch
}

func (g *group) updateMember(m *member, req JoinRequest, ch chan JoinResult) {
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	m.protocolType, m.protocols = req.ProtocolType, req.Protocols
	if m.joinCh != nil && m.joinCh != ch {
		// A duplicate join replaces the older one, which is told to retry.
		m.joinCh <- JoinResult{Err: kerr.RebalanceInProgress, MemberID: m.id, Generation: -1}
	}
	m.joinCh = ch
	g.touch(m)
}

func (g *group) addAndRebalance(id string, req JoinRequest) <-chan JoinResult {
	m := &member{id: id, instanceID: req.InstanceID}
	ch := make(chan JoinResult, 1)
	g.members[id] = m
	if g.leader == "" {
		g.leader = id
	}
	if len(g.members) == 1 {
		g.protocolType = req.ProtocolType
	}
	g.updateMember(m, req, ch)
	if g.state == PreparingRebalance {
		g.maybeCompleteJoin()
	} else {
		g.prepareRebalance()
	}
	return ch
}

// touch restarts a member's session timer.
func (g *group) touch(m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	id := m.id
	timeout := m.sessionTimeout
	if m.joinCh != nil && m.rebalanceTimeout > timeout {
		// A member waiting in a rebalance is alive while the rebalance runs.
		timeout = m.rebalanceTimeout
	}
	m.session = g.c.clock.AfterFunc(timeout, func() {
		g.c.mu.Lock()
		defer g.c.mu.Unlock()
		if cur := g.members[id]; cur == m && !g.c.closed {
			g.c.lg.Info("group member session expired", "group", g.id, "member", id)
			g.removeMember(m)
		}
	})
}

func (g *group) removeMember(m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	if m.joinCh != nil {
		m.joinCh <- JoinResult{Err: kerr.UnknownMemberID, MemberID: m.id, Generation: -1}
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- SyncResult{Err: kerr.UnknownMemberID}
		m.syncCh = nil
	}
	delete(g.members, m.id)
	if g.leader == m.id {
		g.leader = ""
		for id := range g.members {
			g.leader = id
			break
		}
	}
	switch g.state {
	case PreparingRebalance:
		g.maybeCompleteJoin()
	case Stable, CompletingRebalance:
		g.prepareRebalance()
	}
}

func (g *group) prepareRebalance() {
	if g.state == CompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			if m.syncCh != nil {
				m.syncCh <- SyncResult{Err: kerr.RebalanceInProgress}
				m.syncCh = nil
			}
		}
	}
	if g.joinTimer != nil {
		g.joinTimer.Stop()
	}
	var delay time.Duration
	if g.state == Empty && g.c.cfg.InitialRebalanceDelay > 0 {
		// group.initial.rebalance.delay.ms: let the first members of an
		// empty group arrive before assigning.
		delay = g.c.cfg.InitialRebalanceDelay
		g.initialDelay = true
	} else {
		for _, m := range g.members {
			delay = max(delay, m.rebalanceTimeout)
		}
	}
	g.transition(PreparingRebalance)
	g.joinTimer = g.c.clock.AfterFunc(delay, func() {
		g.c.mu.Lock()
		defer g.c.mu.Unlock()
		if g.c.closed || g.state != PreparingRebalance {
			return
		}
		g.initialDelay = false
		g.completeJoin()
	})
	g.maybeCompleteJoin()
}

// maybeCompleteJoin ends the join phase early once every known member has
// rejoined (not during the initial delay).
func (g *group) maybeCompleteJoin() {
	if g.state != PreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinCh == nil {
			return
		}
	}
	g.completeJoin()
}

func (g *group) completeJoin() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	for _, m := range g.members {
		if m.joinCh == nil { // did not rejoin in time
			g.c.lg.Info("removing group member that did not rejoin", "group", g.id, "member", m.id)
			if m.session != nil {
				m.session.Stop()
			}
			if m.syncCh != nil {
				m.syncCh <- SyncResult{Err: kerr.UnknownMemberID}
				m.syncCh = nil
			}
			delete(g.members, m.id)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.leader, g.protocol = "", ""
		g.transition(Empty)
		g.persist()
		return
	}
	if _, ok := g.members[g.leader]; !ok {
		for _, id := range g.sortedMemberIDs() {
			g.leader = id
			break
		}
	}
	g.protocol = g.selectProtocol()
	g.transition(CompletingRebalance)
	for _, m := range g.members {
		m.joinCh <- g.joinResult(m)
		m.joinCh = nil
		g.touch(m)
	}
}

func (g *group) sortedMemberIDs() []string {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// selectProtocol picks the protocol supported by all members that most
// members prefer (each votes for its first supported candidate), as Kafka.
func (g *group) selectProtocol() string {
	ids := g.sortedMemberIDs()
	var candidates []string
	for _, p := range g.members[ids[0]].protocols {
		all := true
		for _, id := range ids {
			if !hasProtocol(g.members[id], p.Name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.Name)
		}
	}
	votes := map[string]int{}
	for _, id := range ids {
		for _, p := range g.members[id].protocols {
			if contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, c := range candidates {
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (g *group) joinResult(m *member) JoinResult {
	r := JoinResult{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol,
		Leader: g.leader, MemberID: m.id}
	if m.id == g.leader {
		for _, id := range g.sortedMemberIDs() {
			o := g.members[id]
			r.Members = append(r.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: o.metadataFor(g.protocol)})
		}
	}
	return r
}

// SyncRequest is a SyncGroup request in the coordinator's terms.
type SyncRequest struct {
	Group, MemberID, InstanceID string
	Generation                  int32
	ProtocolType, Protocol      *string
	Assignments                 map[string][]byte // from the leader
}

// SyncResult is the answer to a sync.
type SyncResult struct {
	Err          *kerr.Error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

func syncErr(err *kerr.Error) chan SyncResult {
	ch := make(chan SyncResult, 1)
	ch <- SyncResult{Err: err}
	return ch
}

// Sync handles SyncGroup.
func (c *Coordinator) Sync(req SyncRequest) <-chan SyncResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return syncErr(kerr.CoordinatorLoadInProgress)
	}
	g := c.groups[req.Group]
	if g == nil {
		return syncErr(kerr.UnknownMemberID)
	}
	m, err := g.member(req.MemberID, req.InstanceID)
	switch {
	case err != nil:
		return syncErr(err)
	case req.Generation != g.generation:
		return syncErr(kerr.IllegalGeneration)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return syncErr(kerr.InconsistentGroupProtocol)
	}
	ch := make(chan SyncResult, 1)
	switch g.state {
	case PreparingRebalance:
		return syncErr(kerr.RebalanceInProgress)
	case CompletingRebalance:
		if m.syncCh != nil {
			m.syncCh <- SyncResult{Err: kerr.RebalanceInProgress}
		}
		m.syncCh = ch
		g.touch(m)
		if m.id == g.leader {
			for id, o := range g.members {
				o.assignment = req.Assignments[id]
			}
			g.persist()
			g.transition(Stable)
			for _, o := range g.members {
				if o.syncCh != nil {
					o.syncCh <- g.syncResult(o)
					o.syncCh = nil
				}
			}
		}
	case Stable:
		g.touch(m)
		ch <- g.syncResult(m)
	default:
		return syncErr(kerr.UnknownMemberID)
	}
	return ch
}

func (g *group) syncResult(m *member) SyncResult {
	a := m.assignment
	if a == nil {
		a = []byte{}
	}
	return SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: a}
}

// Heartbeat handles Heartbeat.
func (c *Coordinator) Heartbeat(group, memberID, instanceID string, generation int32) *kerr.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return kerr.CoordinatorLoadInProgress
	}
	g := c.groups[group]
	if g == nil {
		return kerr.UnknownMemberID
	}
	m, err := g.member(memberID, instanceID)
	switch {
	case err != nil:
		return err
	case generation != g.generation:
		return kerr.IllegalGeneration
	}
	g.touch(m)
	if g.state == PreparingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

// LeaveMember identifies one member leaving (by ID, or by instance ID for
// static members).
type LeaveMember struct{ MemberID, InstanceID string }

// Leave handles LeaveGroup; it returns a top-level error or one per member.
func (c *Coordinator) Leave(group string, members []LeaveMember) (*kerr.Error, []*kerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return kerr.CoordinatorLoadInProgress, nil
	}
	g := c.groups[group]
	if g == nil {
		return kerr.UnknownMemberID, nil
	}
	errs := make([]*kerr.Error, len(members))
	for i, lm := range members {
		m := g.members[lm.MemberID]
		if lm.MemberID == "" {
			m = g.staticMember(lm.InstanceID)
		}
		switch {
		case m == nil:
			errs[i] = kerr.UnknownMemberID
			if lm.InstanceID != "" && g.staticMember(lm.InstanceID) != nil {
				errs[i] = kerr.FencedInstanceID
			}
		case lm.InstanceID != "" && m.instanceID != lm.InstanceID:
			errs[i] = kerr.FencedInstanceID
		default:
			g.c.lg.Info("group member left", "group", g.id, "member", m.id)
			g.removeMember(m)
		}
	}
	return nil, errs
}

// persist writes the group's metadata record (after a sync completes or
// the group empties), so a restart restores membership and generation.
func (g *group) persist() {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType, v.Generation = g.protocolType, g.generation
	v.Protocol, v.Leader = optString(g.protocol), optString(g.leader)
	v.CurrentStateTimestamp = g.c.clock.Now().UnixMilli()
	for _, id := range g.sortedMemberIDs() {
		m := g.members[id]
		mm := kmsg.NewGroupMetadataValueMember()
		mm.MemberID, mm.ClientID, mm.ClientHost = m.id, m.clientID, m.clientHost
		mm.InstanceID = optString(m.instanceID)
		mm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		mm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		mm.Subscription = m.metadataFor(g.protocol)
		mm.Assignment = m.assignment
		v.Members = append(v.Members, mm)
	}
	if _, err := g.c.write(g.id, []record{{key: groupKey(g.id), value: v.AppendTo(nil)}}); err != nil {
		g.c.lg.Error("writing group metadata", "group", g.id, "err", err)
	}
}

// restore applies a replayed group metadata record.
func (g *group) restore(v kmsg.GroupMetadataValue, now time.Time) {
	g.stopTimers()
	g.protocolType, g.generation = v.ProtocolType, v.Generation
	g.protocol, g.leader = "", ""
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.members = make(map[string]*member)
	for _, mm := range v.Members {
		m := &member{id: mm.MemberID, clientID: mm.ClientID, clientHost: mm.ClientHost,
			sessionTimeout:   time.Duration(mm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(mm.RebalanceTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType, assignment: mm.Assignment,
			protocols: []Protocol{{Name: g.protocol, Metadata: mm.Subscription}}}
		if mm.InstanceID != nil {
			m.instanceID = *mm.InstanceID
		}
		g.members[m.id] = m
	}
	g.state = Empty
	if len(g.members) > 0 {
		g.state = Stable
	}
	g.stateTime = now
}

// startSessions arms the session timers of restored members, once loading
// is done: members that do not heartbeat again are expired.
func (c *Coordinator) startSessions() {
	for _, g := range c.groups {
		for _, m := range g.members {
			g.touch(m)
		}
		if g.consumer != nil {
			for _, m := range g.consumer.members {
				g.touchConsumer(m, c.consumerSessionTimeout(g.id))
			}
		}
	}
}

// optString is s as a nullable string: nil when empty.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
