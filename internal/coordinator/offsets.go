package coordinator

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CommitRequest is an OffsetCommit for one group.
type CommitRequest struct {
	Group, MemberID, InstanceID string
	Generation                  int32                       // the member epoch for consumer groups
	Offsets                     map[string]map[int32]Offset // topic -> partition -> offset
	Version                     int16                       // OffsetCommit version
}

// Commit handles OffsetCommit. It returns a top-level error for the whole
// request (applied to every partition by the caller), or a function that
// waits until the commit is durable.
func (c *Coordinator) Commit(req CommitRequest) (*kerr.Error, func() error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return kerr.CoordinatorLoadInProgress, nil
	}
	if req.Group == "" {
		return kerr.InvalidGroupID, nil
	}
	g, m, kerrv := c.commitGroup(req.Group, req.MemberID, req.InstanceID, req.Generation, false, req.Version)
	if kerrv != nil {
		return kerrv, nil
	}
	if m != nil {
		g.touch(m)
	}
	recs := c.offsetRecords(req.Group, req.Offsets)
	if len(recs) == 0 {
		return nil, func() error { return nil }
	}
	durable, err := c.write(req.Group, recs)
	if err != nil {
		c.lg.Error("writing offset commit", "group", req.Group, "err", err)
		return kerr.UnknownServerError, nil
	}
	for topic, ps := range req.Offsets {
		for p, o := range ps {
			g.offsets[topicPartition{topic, p}] = o
		}
	}
	return nil, durable
}

// commitGroup checks an OffsetCommit (txn false) or TxnOffsetCommit (txn
// true) against its group as Kafka's coordinator does
// (OffsetMetadataManager.validate(Transactional)OffsetCommit and the groups'
// validateOffsetCommit). It returns the group, created as a simple group
// when a commit without generation names one that does not exist, and the
// classic member that committed, if any.
//
// A generation (or member epoch) of -1 commits freely to an empty group,
// whatever member ID comes with it: librdkafka sends the member ID it
// made up at start with -1 when it has not joined. Otherwise the member
// must be the group's and in its generation; a request naming no member
// (OffsetCommit v0, or a TxnOffsetCommit) is refused by a non-empty group
// unless it is transactional.
func (c *Coordinator) commitGroup(id, memberID, instanceID string, gen int32, txn bool, version int16) (*group, *member, *kerr.Error) {
	g := c.groups[id]
	if g == nil {
		switch {
		case gen < 0:
			return c.getOrCreate(id), nil, nil // a group that only stores offsets
		case !txn && version >= 9:
			return nil, nil, kerr.GroupIDNotFound
		}
		return nil, nil, kerr.IllegalGeneration
	}
	if g.state == Dead {
		return nil, nil, kerr.CoordinatorNotAvailable
	}
	if g.consumer != nil { // KIP-848: the generation is the member epoch
		switch {
		case gen < 0 && len(g.consumer.members) == 0:
			return g, nil, nil
		case txn && gen < 0 && memberID == "" && instanceID == "":
			return g, nil, nil
		}
		m := g.consumer.members[memberID]
		switch {
		case m == nil:
			return nil, nil, kerr.UnknownMemberID
		case !txn && version < 9:
			return nil, nil, kerr.UnsupportedVersion // KIP-848 members commit with v9+
		case gen != m.epoch && txn:
			return nil, nil, kerr.IllegalGeneration
		case gen != m.epoch:
			return nil, nil, kerr.StaleMemberEpoch
		}
		return g, nil, nil
	}
	if gen < 0 && g.state == Empty {
		return g, nil, nil
	}
	var m *member
	switch {
	case gen >= 0 || memberID != "" || instanceID != "":
		var kerrv *kerr.Error
		if m, kerrv = g.member(memberID, instanceID); kerrv != nil {
			return nil, nil, kerrv
		}
		if gen != g.generation {
			return nil, nil, kerr.IllegalGeneration
		}
	case !txn && g.state != Empty:
		return nil, nil, kerr.UnknownMemberID
	}
	if !txn && g.state == CompletingRebalance {
		return nil, nil, kerr.RebalanceInProgress
	}
	return g, m, nil
}

// FetchedOffset is one partition's committed offset (-1 when none).
type FetchedOffset struct {
	Topic     string
	Partition int32
	Offset
	Unstable bool // an open transaction holds an offset for it (KIP-447)
}

// Fetch handles OffsetFetch for one group: the given topics' partitions, or
// every committed partition when topics is nil.
func (c *Coordinator) Fetch(group string, topics map[string][]int32) ([]FetchedOffset, *kerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return nil, kerr.CoordinatorLoadInProgress
	}
	g := c.groups[group]
	var out []FetchedOffset
	if topics == nil {
		if g == nil {
			return nil, nil
		}
		for tp, o := range g.offsets {
			out = append(out, FetchedOffset{Topic: tp.topic, Partition: tp.partition, Offset: o, Unstable: c.hasPending(group, tp)})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return out, nil
	}
	for topic, ps := range topics {
		for _, p := range ps {
			f := FetchedOffset{Topic: topic, Partition: p, Offset: Offset{Offset: -1, LeaderEpoch: -1}}
			f.Unstable = c.hasPending(group, topicPartition{topic, p})
			if g != nil {
				if o, ok := g.offsets[topicPartition{topic, p}]; ok {
					f.Offset = o
				}
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// GroupSummary is a group as ListGroups shows it.
type GroupSummary struct {
	Group, ProtocolType string
	State               GroupState
	Type                string // classic or consumer
}

// List handles ListGroups.
func (c *Coordinator) List() ([]GroupSummary, *kerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return nil, kerr.CoordinatorLoadInProgress
	}
	var out []GroupSummary
	for _, g := range c.groups {
		typ := "classic"
		if g.consumer != nil {
			typ = "consumer"
		}
		out = append(out, GroupSummary{Group: g.id, ProtocolType: g.protocolType, State: g.state, Type: typ})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}

// MemberDescription is a member as DescribeGroups shows it.
type MemberDescription struct {
	MemberID, InstanceID, ClientID, ClientHost string
	Metadata, Assignment                       []byte
}

// GroupDescription is a group as DescribeGroups shows it.
type GroupDescription struct {
	Err                    *kerr.Error
	State                  GroupState
	ProtocolType, Protocol string
	Members                []MemberDescription
}

// Describe handles DescribeGroups for one group; an unknown group is Dead
// with no members, as in Kafka.
func (c *Coordinator) Describe(group string) GroupDescription {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return GroupDescription{Err: kerr.CoordinatorLoadInProgress}
	}
	g := c.groups[group]
	if g == nil {
		return GroupDescription{State: Dead}
	}
	d := GroupDescription{State: g.state, ProtocolType: g.protocolType, Protocol: g.protocol}
	if g.consumer != nil {
		for _, m := range g.consumer.sortedMembers() {
			d.Members = append(d.Members, MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost})
		}
		return d
	}
	for _, id := range g.sortedMemberIDs() {
		m := g.members[id]
		d.Members = append(d.Members, MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID,
			ClientHost: m.clientHost, Metadata: m.metadataFor(g.protocol), Assignment: m.assignment})
	}
	return d
}

// Delete handles DeleteGroups for one group: only a group without members
// can go; its offsets and metadata are tombstoned.
func (c *Coordinator) Delete(group string) *kerr.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return kerr.CoordinatorLoadInProgress
	}
	g := c.groups[group]
	switch {
	case g == nil:
		return kerr.GroupIDNotFound
	case len(g.members) > 0 || g.state != Empty || g.consumer != nil && len(g.consumer.members) > 0:
		return kerr.NonEmptyGroup
	}
	recs := []record{{key: groupKey(group)}}
	for tp := range g.offsets {
		recs = append(recs, record{key: offsetKey(group, tp.topic, tp.partition)})
	}
	if _, err := c.write(group, recs); err != nil {
		c.lg.Error("writing group tombstones", "group", group, "err", err)
		return kerr.UnknownServerError
	}
	g.stopTimers()
	g.transition(Dead)
	delete(c.groups, group)
	return nil
}

// DeleteOffsets handles OffsetDelete: it returns a top-level error or one
// per partition (GROUP_SUBSCRIBED_TO_TOPIC for topics the members consume).
func (c *Coordinator) DeleteOffsets(group string, topics map[string][]int32) (*kerr.Error, map[string]map[int32]*kerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return kerr.CoordinatorLoadInProgress, nil
	}
	g := c.groups[group]
	if g == nil {
		return kerr.GroupIDNotFound, nil
	}
	subscribed := map[string]bool{}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			for t := range g.consumer.subscribedView {
				if m.subscribes(t) {
					subscribed[t] = true
				}
			}
		}
	} else if len(g.members) > 0 {
		if g.protocolType != "consumer" {
			return kerr.NonEmptyGroup, nil
		}
		for _, m := range g.members {
			var md kmsg.ConsumerMemberMetadata
			if md.ReadFrom(m.metadataFor(g.protocol)) == nil {
				for _, t := range md.Topics {
					subscribed[t] = true
				}
			}
		}
	}
	errs := map[string]map[int32]*kerr.Error{}
	var recs []record
	for topic, ps := range topics {
		errs[topic] = map[int32]*kerr.Error{}
		for _, p := range ps {
			if subscribed[topic] {
				errs[topic][p] = kerr.GroupSubscribedToTopic
				continue
			}
			errs[topic][p] = nil
			if _, ok := g.offsets[topicPartition{topic, p}]; ok {
				recs = append(recs, record{key: offsetKey(group, topic, p)})
			}
		}
	}
	if len(recs) > 0 {
		if _, err := c.write(group, recs); err != nil {
			c.lg.Error("writing offset tombstones", "group", group, "err", err)
			return kerr.UnknownServerError, nil
		}
		for topic, ps := range topics {
			for _, p := range ps {
				if errs[topic][p] == nil {
					c.dropOffset(group, topicPartition{topic, p})
				}
			}
		}
	}
	return nil, errs
}

// TopicDeleted removes every group's committed offsets of a deleted topic,
// and the offsets open transactions hold for it, as Kafka's coordinator
// does when partitions are deleted (OffsetMetadataManager.
// onPartitionsDeleted): a topic created again under the same name starts
// with no committed offsets. The tombstones go to each group's
// __consumer_offsets partition, so a restart forgets them too.
func (c *Coordinator) TopicDeleted(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		c.deletedBeforeLoad = append(c.deletedBeforeLoad, topic)
		return
	}
	c.removeTopicOffsets(topic)
}

func (c *Coordinator) removeTopicOffsets(topic string) {
	byGroup := map[string]map[topicPartition]bool{}
	mark := func(group string, tp topicPartition) {
		if tp.topic != topic {
			return
		}
		if byGroup[group] == nil {
			byGroup[group] = map[topicPartition]bool{}
		}
		byGroup[group][tp] = true
	}
	for id, g := range c.groups {
		for tp := range g.offsets {
			mark(id, tp)
		}
	}
	for _, groups := range c.pending {
		for id, offs := range groups {
			for tp := range offs {
				mark(id, tp)
			}
		}
	}
	for id, tps := range byGroup {
		recs := make([]record, 0, len(tps))
		for tp := range tps {
			recs = append(recs, record{key: offsetKey(id, tp.topic, tp.partition)})
		}
		if _, err := c.write(id, recs); err != nil {
			c.lg.Error("writing offset tombstones of a deleted topic", "group", id, "topic", topic, "err", err)
			continue
		}
		for tp := range tps {
			c.dropOffset(id, tp)
		}
		c.lg.Info("removed committed offsets of a deleted topic", "group", id, "topic", topic, "partitions", len(tps))
	}
}

// dropOffset forgets a group's committed offset of a partition and any
// offset an open transaction holds for it: what a tombstone of the
// offset's key means, live and on replay, as in Kafka.
func (c *Coordinator) dropOffset(group string, tp topicPartition) {
	if g := c.groups[group]; g != nil {
		delete(g.offsets, tp)
	}
	for _, groups := range c.pending {
		delete(groups[group], tp)
	}
}

// ExpireOffsets drops committed offsets past offsets.retention.minutes
// (KIP-211): every offset of a group that has been Empty for longer than
// the retention, and, for groups that never had members (consumers that
// assign partitions themselves), each offset whose commit is older than
// the retention. A group left with no offsets and no members is removed.
// It returns how many offsets expired.
func (c *Coordinator) ExpireOffsets(retention time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded || c.closed {
		return 0
	}
	now := c.clock.Now()
	cutoff := now.Add(-retention).UnixMilli()
	expired := 0
	for id, g := range c.groups {
		if g.state != Empty || (g.consumer != nil && len(g.consumer.members) > 0) {
			continue
		}
		groupExpired := g.protocolType != "" && now.Sub(g.stateTime) > retention
		var recs []record
		for tp, o := range g.offsets {
			if groupExpired || o.CommitTime < cutoff {
				recs = append(recs, record{key: offsetKey(id, tp.topic, tp.partition)})
			}
		}
		removeGroup := len(recs) == len(g.offsets)
		if removeGroup {
			recs = append(recs, record{key: groupKey(id)})
		}
		if len(recs) == 0 {
			continue
		}
		if _, err := c.write(id, recs); err != nil {
			c.lg.Error("writing expired offsets", "group", id, "err", err)
			continue
		}
		n := 0
		for tp, o := range g.offsets {
			if groupExpired || o.CommitTime < cutoff {
				c.dropOffset(id, tp)
				n++
			}
		}
		expired += n
		if removeGroup {
			g.stopTimers()
			delete(c.groups, id)
		}
		c.lg.Info("expired committed offsets", "group", id, "offsets", n, "group_removed", removeGroup)
	}
	return expired
}

// offsetRecords stamps offsets with the commit time and returns their
// __consumer_offsets records.
func (c *Coordinator) offsetRecords(group string, offsets map[string]map[int32]Offset) []record {
	var recs []record
	now := c.clock.Now().UnixMilli()
	for topic, ps := range offsets {
		for p, o := range ps {
			o.CommitTime = now
			ps[p] = o
			recs = append(recs, record{key: offsetKey(group, topic, p), value: offsetValue(o)})
		}
	}
	return recs
}
