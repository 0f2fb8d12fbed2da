package coordinator

import (
	"crypto/rand"
	"encoding/base64"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// KIP-848 consumer groups: the coordinator computes a target assignment with
// a server-side assignor whenever the group epoch moves (membership,
// subscriptions or the subscribed topics' partitions changed), and
// reconciles each member towards it through heartbeats: a member first
// revokes what it must give up (its epoch stays), then gets the new epoch
// and whichever target partitions no other member still holds.

// TopicInfo describes a topic for server-side assignment.
type TopicInfo struct {
	ID         [16]byte
	Partitions int32
}

// TopicSource lists the topics that exist (internal ones excluded).
type TopicSource func() map[string]TopicInfo

type assignment map[string][]int32 // topic -> sorted partitions

func (a assignment) clone() assignment {
	out := make(assignment, len(a))
	for t, ps := range a {
		out[t] = slices.Clone(ps)
	}
	return out
}

func (a assignment) has(t string, p int32) bool {
	_, ok := slices.BinarySearch(a[t], p)
	return ok
}

func (a assignment) equal(b assignment) bool {
	if a.size() != b.size() {
		return false
	}
	for t, ps := range a {
		if !slices.Equal(ps, b[t]) {
			return false
		}
	}
	return true
}

func (a assignment) size() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a assignment) add(t string, p int32) {
	ps := a[t]
	i, found := slices.BinarySearch(ps, p)
	if !found {
		a[t] = slices.Insert(ps, i, p)
	}
}

type consumerMember struct {
	id, instanceID, clientID, clientHost, rackID string
	epoch, prevEpoch                             int32
	subscribed                                   []string
	regex                                        *regexp.Regexp
	regexSource                                  string
	assignor                                     string
	rebalanceTimeout                             time.Duration
	assigned                                     assignment // what the member may own now
	revoking                                     assignment // what it must still give up
	sentAssignment                               assignment // last assignment sent in a response
	session                                      Timer
	leftStatic                                   bool // a static member that left with epoch -2
}

type consumerState struct {
	epoch           int32 // group epoch
	assignmentEpoch int32
	target          map[string]assignment
	members         map[string]*consumerMember
	subscribedView  map[string]TopicInfo // the topics the target was computed from
	assignor        string
}

// HeartbeatRequest is a ConsumerGroupHeartbeat in the coordinator's terms.
// Nil slices and pointers mean "unchanged", as on the wire.
type HeartbeatRequest struct {
	Group, MemberID      string
	MemberEpoch          int32
	InstanceID, RackID   *string
	RebalanceTimeout     time.Duration // < 0: unchanged
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	ServerAssignor       *string
	Owned                map[[16]byte][]int32 // nil: unchanged
	ClientID, ClientHost string
	SessionTimeout       time.Duration
	TopicNamesByID       func([16]byte) (string, bool)
}

// HeartbeatResult is the answer to a ConsumerGroupHeartbeat.
type HeartbeatResult struct {
	Err        *kerr.Error
	ErrMessage string
	MemberID   string
	Epoch      int32
	Assignment map[[16]byte][]int32 // nil: unchanged
}

// Assignors implemented server-side; the first is the default.
var Assignors = []string{"uniform", "range"}

func newConsumerMemberID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ConsumerHeartbeat handles ConsumerGroupHeartbeat (KIP-848).
func (c *Coordinator) ConsumerHeartbeat(req HeartbeatRequest) HeartbeatResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return HeartbeatResult{Err: kerr.CoordinatorLoadInProgress}
	}
	if req.Group == "" {
		return HeartbeatResult{Err: kerr.InvalidRequest, ErrMessage: "group id is empty"}
	}
	if req.ServerAssignor != nil && !slices.Contains(Assignors, *req.ServerAssignor) {
		return HeartbeatResult{Err: kerr.UnsupportedAssignor, ErrMessage: "assignor " + *req.ServerAssignor + " is not one of uniform, range"}
	}
	g := c.groups[req.Group]
	if g != nil && g.consumer == nil {
		if len(g.members) > 0 {
			return HeartbeatResult{Err: kerr.GroupIDNotFound, ErrMessage: "group " + req.Group + " is a classic group with members"}
		}
		// An empty classic group (offsets only) becomes a consumer group.
	}
	if g == nil {
		if req.MemberEpoch != 0 {
			return HeartbeatResult{Err: kerr.UnknownMemberID}
		}
		g = c.getOrCreate(req.Group)
	}
	if g.consumer == nil {
		g.consumer = &consumerState{target: map[string]assignment{}, members: map[string]*consumerMember{}, assignor: Assignors[0]}
		g.protocolType = "consumer"
	}
	cs := g.consumer
	epochBefore := cs.epoch
	m := cs.members[req.MemberID]
	var memberEpochBefore int32 = -1
	var assignedBefore assignment
	if m != nil {
		memberEpochBefore, assignedBefore = m.epoch, m.assigned.clone()
	}
	switch {
	case req.MemberEpoch == -2 && m != nil && m.instanceID != "":
		// A static member going away for a while (KIP-848): it keeps its
		// partitions until its session times out, or a new incarnation
		// with the same instance ID takes them over.
		c.lg.Info("static consumer group member left temporarily", "group", g.id, "member", m.id, "instance", m.instanceID)
		m.leftStatic = true
		g.persistConsumerGroup()
		return HeartbeatResult{MemberID: req.MemberID, Epoch: req.MemberEpoch}
	case req.MemberEpoch == -1 || req.MemberEpoch == -2:
		if m != nil {
			c.lg.Info("consumer group member left", "group", g.id, "member", m.id)
			g.removeConsumerMember(m)
		}
		return HeartbeatResult{MemberID: req.MemberID, Epoch: req.MemberEpoch}
	case req.MemberEpoch == 0 && m == nil && req.InstanceID != nil && cs.staticMember(*req.InstanceID) != nil:
		old := cs.staticMember(*req.InstanceID)
		if !old.leftStatic {
			return HeartbeatResult{Err: kerr.UnreleasedInstanceID, ErrMessage: "instance " + *req.InstanceID + " is still in use by another member"}
		}
		m = g.takeOverStatic(old, req.MemberID)
	case req.MemberEpoch == 0:
		if m != nil && m.instanceID != "" && req.InstanceID != nil && *req.InstanceID != m.instanceID {
			return HeartbeatResult{Err: kerr.FencedInstanceID}
		}
		if m == nil {
			id := req.MemberID
			if id == "" {
				id = newConsumerMemberID()
			}
			if c.cfg.MaxGroupSize > 0 && len(cs.members) >= c.cfg.MaxGroupSize {
				return HeartbeatResult{Err: kerr.GroupMaxSizeReached}
			}
			m = &consumerMember{id: id, assigned: assignment{}, revoking: assignment{}}
			cs.members[id] = m
			cs.epoch++
		} else {
			// A rejoin: the member gave everything up.
			m.assigned, m.revoking, m.sentAssignment = assignment{}, assignment{}, nil
		}
		m.epoch, m.prevEpoch = 0, 0
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil && len(m.subscribed) == 0 && m.regex == nil {
			return HeartbeatResult{Err: kerr.InvalidRequest, ErrMessage: "a joining member must subscribe to topics"}
		}
	default:
		if m == nil {
			return HeartbeatResult{Err: kerr.UnknownMemberID}
		}
		if req.MemberEpoch != m.epoch && !(req.MemberEpoch == m.prevEpoch && ownedSubset(req, m)) {
			return HeartbeatResult{Err: kerr.FencedMemberEpoch, ErrMessage: "member epoch does not match"}
		}
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.InstanceID != nil {
		m.instanceID = *req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = *req.RackID
	}
	if req.RebalanceTimeout >= 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != cs.assignor {
		cs.assignor = *req.ServerAssignor
		cs.epoch++
	}
	if req.SubscribedTopicNames != nil {
		subs := slices.Clone(req.SubscribedTopicNames)
		sort.Strings(subs)
		if !slices.Equal(subs, m.subscribed) {
			m.subscribed = subs
			cs.epoch++
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regexSource {
		if *req.SubscribedTopicRegex == "" {
			m.regex, m.regexSource = nil, ""
		} else {
			re, err := regexp.Compile("^(?:" + *req.SubscribedTopicRegex + ")$")
			if err != nil {
				return HeartbeatResult{Err: kerr.InvalidRegularExpression, ErrMessage: err.Error()}
			}
			m.regex, m.regexSource = re, *req.SubscribedTopicRegex
		}
		cs.epoch++
	}
	// The topics themselves may have changed (created, deleted, grown).
	view := g.subscribedTopics(c.topics())
	if !sameView(view, cs.subscribedView) {
		cs.epoch++
	}
	if cs.epoch > cs.assignmentEpoch {
		cs.target = computeAssignment(cs.assignor, cs.members, view, cs.target)
		cs.assignmentEpoch = cs.epoch
		cs.subscribedView = view
	}
	if req.Owned != nil {
		g.acknowledge(m, req.Owned, req.TopicNamesByID)
	}
	g.reconcile(m, view)
	g.touchConsumer(m, req.SessionTimeout)
	res := HeartbeatResult{MemberID: m.id, Epoch: m.epoch}
	if m.sentAssignment == nil || !m.sentAssignment.equal(m.assigned) || req.Owned != nil {
		res.Assignment = map[[16]byte][]int32{}
		for t, ps := range m.assigned {
			res.Assignment[view[t].ID] = slices.Clone(ps)
		}
		m.sentAssignment = m.assigned.clone()
	}
	g.transition(g.consumerState())
	if cs.epoch != epochBefore || m.epoch != memberEpochBefore || !m.assigned.equal(assignedBefore) {
		g.persistConsumerGroup()
	}
	return res
}

func (c *Coordinator) topics() map[string]TopicInfo {
	if c.topicSource == nil {
		return nil
	}
	return c.topicSource()
}

// ownedSubset: a member one epoch behind may still heartbeat if it owns no
// more than it was given (its response was lost).
func ownedSubset(req HeartbeatRequest, m *consumerMember) bool {
	if req.Owned == nil || req.TopicNamesByID == nil {
		return false
	}
	for id, ps := range req.Owned {
		name, ok := req.TopicNamesByID(id)
		if !ok {
			return false
		}
		for _, p := range ps {
			if !m.assigned.has(name, p) && !m.revoking.has(name, p) {
				return false
			}
		}
	}
	return true
}

// subscribedTopics is the set of existing topics any member subscribes to.
func (g *group) subscribedTopics(all map[string]TopicInfo) map[string]TopicInfo {
	view := map[string]TopicInfo{}
	for _, m := range g.consumer.members {
		for _, t := range m.subscribed {
			if ti, ok := all[t]; ok {
				view[t] = ti
			}
		}
		if m.regex != nil {
			for t, ti := range all {
				if m.regex.MatchString(t) {
					view[t] = ti
				}
			}
		}
	}
	return view
}

func (m *consumerMember) subscribes(topic string) bool {
	return slices.Contains(m.subscribed, topic) || m.regex != nil && m.regex.MatchString(topic)
}

func sameView(a, b map[string]TopicInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for t, ti := range a {
		if b[t] != ti {
			return false
		}
	}
	return true
}

// acknowledge takes the member's report of what it owns: revocations it has
// completed are released.
func (g *group) acknowledge(m *consumerMember, owned map[[16]byte][]int32, names func([16]byte) (string, bool)) {
	own := assignment{}
	for id, ps := range owned {
		name, ok := names(id)
		if !ok {
			continue
		}
		for _, p := range ps {
			own.add(name, p)
		}
	}
	for t, ps := range m.revoking {
		kept := ps[:0]
		for _, p := range ps {
			if own.has(t, p) {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			delete(m.revoking, t)
		} else {
			m.revoking[t] = kept
		}
	}
}

// reconcile moves a member towards its target assignment.
func (g *group) reconcile(m *consumerMember, view map[string]TopicInfo) {
	cs := g.consumer
	target := cs.target[m.id]
	// Give up what is no longer the member's.
	for t, ps := range m.assigned {
		kept := ps[:0:0]
		for _, p := range ps {
			if target.has(t, p) {
				kept = append(kept, p)
			} else {
				m.revoking.add(t, p)
			}
		}
		if len(kept) == 0 {
			delete(m.assigned, t)
		} else {
			m.assigned[t] = kept
		}
	}
	if m.revoking.size() > 0 {
		return // keep the epoch until the member confirms the revocation
	}
	if m.epoch != cs.assignmentEpoch {
		m.prevEpoch, m.epoch = m.epoch, cs.assignmentEpoch
	}
	// Take the target partitions nobody else holds any more.
	for t, ps := range target {
		for _, p := range ps {
			if m.assigned.has(t, p) || g.heldByOther(m, t, p) {
				continue
			}
			m.assigned.add(t, p)
		}
	}
}

func (g *group) heldByOther(m *consumerMember, t string, p int32) bool {
	for _, o := range g.consumer.members {
		if o != m && (o.assigned.has(t, p) || o.revoking.has(t, p)) {
			return true
		}
	}
	return false
}

func (g *group) consumerState() GroupState {
	cs := g.consumer
	if len(cs.members) == 0 {
		return Empty
	}
	for _, m := range cs.members {
		if m.epoch != cs.assignmentEpoch || !m.assigned.equal(cs.target[m.id]) {
			return "Reconciling"
		}
	}
	return Stable
}

func (g *group) touchConsumer(m *consumerMember, timeout time.Duration) {
	if m.session != nil {
		m.session.Stop()
	}
	id := m.id
	m.session = g.c.clock.AfterFunc(timeout, func() {
		g.c.mu.Lock()
		defer g.c.mu.Unlock()
		if g.consumer != nil && g.consumer.members[id] == m && !g.c.closed {
			g.c.lg.Info("consumer group member session expired", "group", g.id, "member", id)
			g.removeConsumerMember(m)
		}
	})
}

func (g *group) removeConsumerMember(m *consumerMember) {
	if m.session != nil {
		m.session.Stop()
	}
	cs := g.consumer
	delete(cs.members, m.id)
	delete(cs.target, m.id)
	cs.epoch++
	// Reassign at once, so the group shows what is to be done; members
	// pick up their new partitions on their next heartbeat.
	view := g.subscribedTopics(g.c.topics())
	cs.target = computeAssignment(cs.assignor, cs.members, view, cs.target)
	cs.assignmentEpoch, cs.subscribedView = cs.epoch, view
	g.transition(g.consumerState())
	g.persistConsumerGroup()
}

func (cs *consumerState) staticMember(instanceID string) *consumerMember {
	for _, m := range cs.members {
		if m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// takeOverStatic gives a new incarnation of a static member the old one's
// place: its partitions, target and epoch, without a rebalance.
func (g *group) takeOverStatic(old *consumerMember, newID string) *consumerMember {
	cs := g.consumer
	if newID == "" {
		newID = newConsumerMemberID()
	}
	if old.session != nil {
		old.session.Stop()
	}
	m := *old
	m.id, m.leftStatic, m.session, m.sentAssignment = newID, false, nil, nil
	delete(cs.members, old.id)
	cs.members[newID] = &m
	cs.target[newID] = cs.target[old.id]
	delete(cs.target, old.id)
	g.c.lg.Info("static consumer group member rejoined", "group", g.id, "member", newID, "instance", m.instanceID)
	return &m
}

// computeAssignment runs a server-side assignor. Both keep a member's
// previous partitions where the assignor's rules allow (stickiness).
func computeAssignment(assignor string, members map[string]*consumerMember, view map[string]TopicInfo, prev map[string]assignment) map[string]assignment {
	ids := make([]string, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	topics := make([]string, 0, len(view))
	for t := range view {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	out := make(map[string]assignment, len(ids))
	for _, id := range ids {
		out[id] = assignment{}
	}
	if len(ids) == 0 {
		return out
	}
	if assignor == "range" {
		for _, t := range topics {
			var subs []string
			for _, id := range ids {
				if members[id].subscribes(t) {
					subs = append(subs, id)
				}
			}
			if len(subs) == 0 {
				continue
			}
			n := int(view[t].Partitions)
			per, extra := n/len(subs), n%len(subs)
			p := 0
			for i, id := range subs {
				cnt := per
				if i < extra {
					cnt++
				}
				for j := 0; j < cnt; j++ {
					out[id].add(t, int32(p))
					p++
				}
			}
		}
		return out
	}
	// uniform: balance the number of partitions per member, keeping
	// previous owners where that stays within the balanced quota.
	total := 0
	for _, t := range topics {
		total += int(view[t].Partitions)
	}
	quota := (total + len(ids) - 1) / len(ids)
	taken := map[topicPartition]bool{}
	for _, id := range ids {
		for t, ps := range prev[id] {
			ti, ok := view[t]
			if !ok || !members[id].subscribes(t) {
				continue
			}
			for _, p := range ps {
				if p < ti.Partitions && out[id].size() < quota && !taken[topicPartition{t, p}] {
					out[id].add(t, p)
					taken[topicPartition{t, p}] = true
				}
			}
		}
	}
	for _, t := range topics {
		for p := int32(0); p < view[t].Partitions; p++ {
			if taken[topicPartition{t, p}] {
				continue
			}
			best := ""
			for _, id := range ids {
				if members[id].subscribes(t) && (best == "" || out[id].size() < out[best].size()) {
					best = id
				}
			}
			if best != "" {
				out[best].add(t, p)
			}
		}
	}
	return out
}

func (cs *consumerState) sortedMembers() []*consumerMember {
	out := make([]*consumerMember, 0, len(cs.members))
	for _, m := range cs.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// ConsumerMemberDescription is a KIP-848 member as ConsumerGroupDescribe
// shows it; assignments are by topic name.
type ConsumerMemberDescription struct {
	MemberID, InstanceID, RackID, ClientID, ClientHost string
	Epoch                                              int32
	SubscribedTopics                                   []string
	SubscribedRegex                                    string
	Assignment, Target                                 map[string][]int32
}

// ConsumerGroupDescription is a group as ConsumerGroupDescribe shows it.
type ConsumerGroupDescription struct {
	Err             *kerr.Error
	ErrMessage      string // with Err, Kafka's message for it
	State           string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// DescribeConsumerGroup handles ConsumerGroupDescribe for one group.
func (c *Coordinator) DescribeConsumerGroup(group string) ConsumerGroupDescription {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return ConsumerGroupDescription{Err: kerr.CoordinatorLoadInProgress}
	}
	g := c.groups[group]
	switch {
	case g == nil:
		return ConsumerGroupDescription{Err: kerr.GroupIDNotFound, ErrMessage: "Group " + group + " not found."}
	case g.consumer == nil:
		// A classic group: the Java admin client then describes it with
		// DescribeGroups.
		return ConsumerGroupDescription{Err: kerr.GroupIDNotFound, ErrMessage: "Group " + group + " is not a consumer group."}
	}
	cs := g.consumer
	d := ConsumerGroupDescription{State: string(g.state), Epoch: cs.epoch, AssignmentEpoch: cs.assignmentEpoch, Assignor: cs.assignor}
	for _, m := range cs.sortedMembers() {
		d.Members = append(d.Members, ConsumerMemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, ClientID: m.clientID, ClientHost: m.clientHost,
			Epoch: m.epoch, SubscribedTopics: slices.Clone(m.subscribed), SubscribedRegex: m.regexSource,
			Assignment: m.assigned.clone(), Target: cs.target[m.id].clone(),
		})
	}
	return d
}
