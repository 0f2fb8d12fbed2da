package coordinator

import (
	"encoding/binary"
	"fmt"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A record of __consumer_offsets, in Kafka's own key/value schemas, so the
// topic reads the same as Kafka's: offset commits (key version 1) and group
// metadata (key version 2). A nil value is a tombstone.
type record struct {
	key, value []byte
}

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = 1, group, topic, partition
	return k.AppendTo(nil)
}

func offsetValue(o Offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = 3
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.Offset, o.LeaderEpoch, o.Metadata, o.CommitTime
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version, k.Group = 2, group
	return k.AppendTo(nil)
}

// decodeKey tells an offset-commit key from a group-metadata key.
func decodeKey(key []byte) (version int16, ok bool) {
	if len(key) < 2 {
		return 0, false
	}
	return int16(binary.BigEndian.Uint16(key)), true
}

// apply replays one __consumer_offsets record into the state.
func (c *Coordinator) apply(h log.BatchHeader, r log.Record) error {
	if h.IsControl() {
		// A transaction marker: its offset commits take effect or vanish.
		if len(r.Key) >= 4 {
			c.completeTxn(h.ProducerID, binary.BigEndian.Uint16(r.Key[2:]) == 1)
		}
		return nil
	}
	version, ok := decodeKey(r.Key)
	if !ok {
		return fmt.Errorf("record at offset %d: key too short", r.Offset)
	}
	switch version {
	case 0, 1:
		k := kmsg.NewOffsetCommitKey()
		if err := k.ReadFrom(r.Key); err != nil {
			return fmt.Errorf("offset key at %d: %w", r.Offset, err)
		}
		tp := topicPartition{k.Topic, k.Partition}
		if r.Value == nil {
			c.dropOffset(k.Group, tp)
			return nil
		}
		v := kmsg.NewOffsetCommitValue()
		if err := v.ReadFrom(r.Value); err != nil {
			return fmt.Errorf("offset value at %d: %w", r.Offset, err)
		}
		o := Offset{Offset: v.Offset, LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata, CommitTime: v.CommitTimestamp}
		if h.IsTransactional() {
			c.addPending(h.ProducerID, k.Group, tp, o)
			return nil
		}
		c.getOrCreate(k.Group).offsets[tp] = o
	case 2:
		k := kmsg.NewGroupMetadataKey()
		if err := k.ReadFrom(r.Key); err != nil {
			return fmt.Errorf("group key at %d: %w", r.Offset, err)
		}
		if r.Value == nil {
			delete(c.groups, k.Group)
			return nil
		}
		v := kmsg.NewGroupMetadataValue()
		if err := v.ReadFrom(r.Value); err != nil {
			return fmt.Errorf("group value at %d: %w", r.Offset, err)
		}
		c.getOrCreate(k.Group).restore(v, c.clock.Now())
	case consumerGroupKeyVersion:
		return c.restoreConsumerGroup(r.Key, r.Value)
	default:
		// Kafka's KIP-848 record kinds are not written by Samsa; skip.
	}
	return nil
}
