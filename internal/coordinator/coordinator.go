// Package coordinator owns consumer groups: the classic group membership
// protocol (JoinGroup/SyncGroup/Heartbeat/LeaveGroup state machine with
// session and rebalance timeouts, KIP-394 member IDs, KIP-345 static
// members) and committed offsets. Its state lives in the compacted internal
// topic __consumer_offsets, in Kafka's record schemas, and is rebuilt by
// replaying it. It does not know about the network or Kafka request
// encodings beyond those records; handlers in internal/api translate.
package coordinator

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
)

// OffsetsTopic is the internal topic holding group state.
const OffsetsTopic = "__consumer_offsets"

// Config is the group coordinator's configuration (Kafka's names in the
// comments).
type Config struct {
	NumPartitions         int32         // offsets.topic.num.partitions
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	MaxGroupSize          int           // group.max.size
	MaxMetadataBytes      int           // offset.metadata.max.bytes
	// ConsumerSessionTimeout is group.consumer.session.timeout.ms: the
	// session of restored KIP-848 members.
	ConsumerSessionTimeout time.Duration
	// GroupSessionTimeout, when set, gives a KIP-848 group's own session
	// timeout instead (its consumer.session.timeout.ms group config).
	GroupSessionTimeout func(group string) time.Duration
}

// consumerSessionTimeout is the session timeout of a KIP-848 group's
// members.
func (c *Coordinator) consumerSessionTimeout(group string) time.Duration {
	if c.cfg.GroupSessionTimeout != nil {
		return c.cfg.GroupSessionTimeout(group)
	}
	return c.cfg.ConsumerSessionTimeout
}

// Log is where the coordinator keeps its records: the partitions of
// __consumer_offsets. The broker implements it.
type Log interface {
	// Append appends one batch to a partition and returns a function that
	// waits until it is durable.
	Append(partition int32, batch []byte) (durable func() error, err error)
	// Replay calls fn with every record of a partition, in order, with
	// the header of its batch (transactional offset commits and markers).
	Replay(partition int32, fn func(log.BatchHeader, log.Record) error) error
}

// Clock is time for the coordinator; tests may inject their own.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable timer from a Clock.
type Timer interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Coordinator is the group coordinator of this node.
type Coordinator struct {
	cfg         Config
	log         Log
	clock       Clock
	lg          *slog.Logger
	topicSource TopicSource

	mu     sync.Mutex
	groups map[string]*group
	// pending holds transactional offset commits until their
	// transaction's marker: producer ID -> group -> partition -> offset.
	pending map[int64]map[string]map[topicPartition]Offset
	// deletedBeforeLoad are topics deleted before Load finished, whose
	// offsets Load removes once it has replayed them.
	deletedBeforeLoad []string
	loaded            bool
	closed            bool
}

// New returns a coordinator; it serves nothing until Load has replayed the
// log (group requests get COORDINATOR_LOAD_IN_PROGRESS meanwhile).
func New(cfg Config, l Log, topics TopicSource, clock Clock, logger *slog.Logger) *Coordinator {
	if clock == nil {
		clock = realClock{}
	}
	return &Coordinator{cfg: cfg, log: l, topicSource: topics, clock: clock, lg: logger, groups: make(map[string]*group),
		pending: map[int64]map[string]map[topicPartition]Offset{}}
}

// Load replays every partition of __consumer_offsets.
func (c *Coordinator) Load() error {
	start := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := int32(0); p < c.cfg.NumPartitions; p++ {
		if err := c.log.Replay(p, c.apply); err != nil { // groups and offsets
			return fmt.Errorf("replay %s-%d: %w", OffsetsTopic, p, err)
		}
	}
	c.loaded = true
	for _, topic := range c.deletedBeforeLoad {
		c.removeTopicOffsets(topic)
	}
	c.deletedBeforeLoad = nil
	c.startSessions()
	c.lg.Info("group coordinator loaded", "groups", len(c.groups), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Close stops every timer.
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, g := range c.groups {
		g.stopTimers()
	}
}

// PartitionFor is the __consumer_offsets partition of a group: Kafka's
// abs(groupId.hashCode) % partitions, with Java's String.hashCode.
func (c *Coordinator) PartitionFor(group string) int32 {
	return partitionFor(group, c.cfg.NumPartitions)
}

func partitionFor(key string, n int32) int32 {
	var h int32
	for _, r := range utf16Units(key) {
		h = 31*h + int32(r)
	}
	if h == -2147483648 { // Kafka's Utils.abs maps MIN_VALUE to 0
		h = 0
	}
	if h < 0 {
		h = -h
	}
	return h % n
}

func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xd800+(r>>10)), uint16(0xdc00+(r&0x3ff)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

func (c *Coordinator) getOrCreate(id string) *group {
	g := c.groups[id]
	if g == nil {
		g = newGroup(c, id)
		c.groups[id] = g
	}
	return g
}

// write appends records of a group to its partition. Callers hold c.mu, so
// records of one group land in the order of its state changes.
func (c *Coordinator) write(group string, recs []record) (func() error, error) {
	return c.writeAs(group, recs, -1, -1)
}

// writeAs appends records as a producer's transactional batch (pid >= 0).
func (c *Coordinator) writeAs(group string, recs []record, pid int64, epoch int16) (func() error, error) {
	lr := make([]log.Record, len(recs))
	for i, r := range recs {
		lr[i] = log.Record{Key: r.key, Value: r.value}
	}
	spec := log.BatchSpec{Timestamp: c.clock.Now().UnixMilli(), ProducerID: pid, ProducerEpoch: epoch, Transactional: pid >= 0}
	return c.log.Append(c.PartitionFor(group), log.EncodeBatch(spec, lr))
}
