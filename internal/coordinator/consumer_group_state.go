package coordinator

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Persistence of KIP-848 groups. Kafka stores them as several record kinds
// (key versions 3-8) whose schemas kmsg does not carry; Samsa stores a
// consumer group's whole membership as one record under its own key
// version, a JSON value, written when membership or assignments change.
// Compaction keeps the latest per group. Kafka tools never read a Samsa
// data directory, so the format only needs to be stable for Samsa.
const consumerGroupKeyVersion = 0x5a00

type consumerGroupRecord struct {
	Epoch    int32                  `json:"epoch"`
	Assignor string                 `json:"assignor"`
	Members  []consumerMemberRecord `json:"members"`
}

type consumerMemberRecord struct {
	ID               string             `json:"id"`
	InstanceID       string             `json:"instance_id,omitempty"`
	ClientID         string             `json:"client_id"`
	ClientHost       string             `json:"client_host"`
	RackID           string             `json:"rack_id,omitempty"`
	Epoch            int32              `json:"epoch"`
	Subscribed       []string           `json:"subscribed,omitempty"`
	Regex            string             `json:"regex,omitempty"`
	RebalanceTimeout int64              `json:"rebalance_timeout_ms"`
	Assigned         map[string][]int32 `json:"assigned"`
}

func consumerGroupKey(group string) []byte {
	k := binary.BigEndian.AppendUint16(nil, consumerGroupKeyVersion)
	return append(k, group...)
}

// persistConsumerGroup writes the group's membership record (a tombstone
// when it has no members left).
func (g *group) persistConsumerGroup() {
	cs := g.consumer
	var value []byte
	if len(cs.members) > 0 {
		rec := consumerGroupRecord{Epoch: cs.epoch, Assignor: cs.assignor}
		for _, m := range cs.sortedMembers() {
			rec.Members = append(rec.Members, consumerMemberRecord{
				ID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost, RackID: m.rackID,
				Epoch: m.epoch, Subscribed: m.subscribed, Regex: m.regexSource,
				RebalanceTimeout: m.rebalanceTimeout.Milliseconds(), Assigned: m.assigned.clone(),
			})
		}
		var err error
		if value, err = json.Marshal(rec); err != nil {
			// A nil value would be a tombstone: keep the last record instead.
			g.c.lg.Error("encoding consumer group state", "group", g.id, "err", err)
			return
		}
	}
	if _, err := g.c.write(g.id, []record{{key: consumerGroupKey(g.id), value: value}}); err != nil {
		g.c.lg.Error("writing consumer group state", "group", g.id, "err", err)
	}
}

// restoreConsumerGroup applies a replayed membership record. Members get
// their partitions and epochs back; their sessions restart once loading
// ends, so members that do not return are expired.
func (c *Coordinator) restoreConsumerGroup(key, value []byte) error {
	group := string(key[2:])
	if value == nil {
		if g := c.groups[group]; g != nil && g.consumer != nil {
			g.consumer.members = map[string]*consumerMember{}
			g.consumer.target = map[string]assignment{}
			g.state = Empty
		}
		return nil
	}
	var rec consumerGroupRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		return fmt.Errorf("consumer group %s state: %w", group, err)
	}
	g := c.getOrCreate(group)
	cs := &consumerState{epoch: rec.Epoch, assignmentEpoch: rec.Epoch, assignor: rec.Assignor,
		target: map[string]assignment{}, members: map[string]*consumerMember{}}
	for _, mr := range rec.Members {
		m := &consumerMember{id: mr.ID, instanceID: mr.InstanceID, clientID: mr.ClientID, clientHost: mr.ClientHost,
			rackID: mr.RackID, epoch: mr.Epoch, prevEpoch: mr.Epoch, subscribed: mr.Subscribed, regexSource: mr.Regex,
			rebalanceTimeout: time.Duration(mr.RebalanceTimeout) * time.Millisecond,
			assigned:         assignment(mr.Assigned).clone(), revoking: assignment{}}
		if m.assigned == nil {
			m.assigned = assignment{}
		}
		if mr.Regex != "" {
			re, err := regexp.Compile("^(?:" + mr.Regex + ")$")
			if err != nil {
				return fmt.Errorf("consumer group %s member %s: %w", group, mr.ID, err)
			}
			m.regex = re
		}
		cs.members[m.id] = m
		cs.target[m.id] = m.assigned.clone()
	}
	g.consumer, g.protocolType = cs, "consumer"
	g.state = g.consumerState()
	return nil
}
