// Package metadata owns the cluster metadata of a single node: topics (name,
// ID, partition count, configs), dynamic broker and group configs and the
// producer-ID allocator, kept as an ordered log of records applied to an
// in-memory image. On one node the log is a local file of JSON lines,
// fsynced per record; a cluster will put the same records in a Raft log. It
// does not own partition data.
package metadata

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// TopicID is a topic's UUID (KIP-516).
type TopicID [16]byte

// NewTopicID returns a random non-zero topic ID.
func NewTopicID() TopicID {
	var id TopicID
	for id == (TopicID{}) {
		rand.Read(id[:])
	}
	return id
}

// Topic is one topic in the image.
type Topic struct {
	Name       string
	ID         TopicID
	Partitions int32
	Configs    map[string]string // explicitly set topic configs only
}

// Record is one entry of the metadata log.
type Record struct {
	Type       string            `json:"type"` // topic, delete_topic, partitions, configs, producer_ids, broker_configs, group_configs
	Name       string            `json:"name,omitempty"`
	ID         *TopicID          `json:"id,omitempty"`
	Partitions int32             `json:"partitions,omitempty"`
	Configs    map[string]string `json:"configs,omitempty"`
	NextPID    int64             `json:"next_pid,omitempty"`
}

// ErrTopicExists and ErrUnknownTopic are returned by the mutators.
var (
	ErrTopicExists  = errors.New("topic already exists")
	ErrUnknownTopic = errors.New("unknown topic")
)

const logName = "__cluster_metadata.jsonl"

// Store is the metadata image plus its durable log.
type Store struct {
	mu     sync.RWMutex
	f      *os.File
	topics map[string]*Topic
	byID   map[TopicID]*Topic
	// Producer IDs are handed out from a block whose end is persisted
	// before any ID in it is used, so IDs are never reused after a crash.
	nextPID, pidBlockEnd int64
	brokerConfigs        map[string]map[string]string // scope ("" cluster-wide, or a node ID) -> configs
	groupConfigs         map[string]map[string]string // group ID -> its dynamic configs (KIP-848)
	log                  *slog.Logger
}

// Open replays the metadata log in dir (creating it if missing). A torn last
// line (a crash mid-write) is cut off.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, logName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metadata log: %w", err)
	}
	s := &Store{f: f, topics: make(map[string]*Topic), byID: make(map[TopicID]*Topic), log: logger}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read metadata log: %w", err)
	}
	good := 0
	for good < len(data) {
		nl := bytes.IndexByte(data[good:], '\n')
		if nl < 0 {
			break // a torn last line: the crash came mid-write
		}
		var r Record
		err := json.Unmarshal(data[good:good+nl], &r)
		if err == nil {
			err = r.validate()
		}
		if err != nil {
			// A complete line (records are written with their newline in
			// one write) that does not parse is corruption, not a torn
			// write; dropping it and what follows would lose topics and
			// reuse producer IDs.
			f.Close()
			return nil, fmt.Errorf("metadata log %s: corrupt record at byte %d: %v", path, good, err)
		}
		s.apply(r)
		good += nl + 1
	}
	if good < len(data) {
		logger.Warn("truncating torn metadata log tail", "file", path, "offset", good, "bytes", len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s.nextPID = s.pidBlockEnd // never reuse a block that may have been handed out
	return s, nil
}

// Close closes the log file.
func (s *Store) Close() error { return s.f.Close() }

// validate checks that a record has the fields its type needs.
func (r Record) validate() error {
	switch r.Type {
	case "topic":
		if r.Name == "" || r.ID == nil || r.Partitions <= 0 {
			return fmt.Errorf("topic record needs a name, an id and partitions")
		}
	case "delete_topic", "partitions", "configs", "group_configs":
		if r.Name == "" {
			return fmt.Errorf("%s record needs a name", r.Type)
		}
	case "producer_ids", "broker_configs":
	default:
		return fmt.Errorf("unknown record type %q", r.Type)
	}
	return nil
}

func (s *Store) apply(r Record) {
	switch r.Type {
	case "topic":
		t := &Topic{Name: r.Name, ID: *r.ID, Partitions: r.Partitions, Configs: maps.Clone(r.Configs)}
		if t.Configs == nil {
			t.Configs = map[string]string{}
		}
		s.topics[t.Name] = t
		s.byID[t.ID] = t
	case "delete_topic":
		if t := s.topics[r.Name]; t != nil {
			delete(s.byID, t.ID)
			delete(s.topics, r.Name)
		}
	case "partitions":
		if t := s.topics[r.Name]; t != nil {
			t.Partitions = r.Partitions
		}
	case "configs":
		if t := s.topics[r.Name]; t != nil {
			t.Configs = maps.Clone(r.Configs)
			if t.Configs == nil {
				t.Configs = map[string]string{}
			}
		}
	case "producer_ids":
		s.pidBlockEnd = r.NextPID
	case "broker_configs":
		if s.brokerConfigs == nil {
			s.brokerConfigs = map[string]map[string]string{}
		}
		s.brokerConfigs[r.Name] = maps.Clone(r.Configs)
	case "group_configs":
		if len(r.Configs) == 0 {
			delete(s.groupConfigs, r.Name)
			break
		}
		if s.groupConfigs == nil {
			s.groupConfigs = map[string]map[string]string{}
		}
		s.groupConfigs[r.Name] = maps.Clone(r.Configs)
	}
}

// commit appends r durably, then applies it. Callers hold s.mu.
func (s *Store) commit(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write metadata log: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync metadata log: %w", err)
	}
	s.apply(r)
	return nil
}

func (t *Topic) clone() Topic {
	c := *t
	c.Configs = maps.Clone(t.Configs)
	return c
}

// Topic returns a copy of the named topic.
func (s *Store) Topic(name string) (Topic, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.topics[name]
	if !ok {
		return Topic{}, false
	}
	return t.clone(), true
}

// TopicByID returns a copy of the topic with this ID.
func (s *Store) TopicByID(id TopicID) (Topic, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.byID[id]
	if !ok {
		return Topic{}, false
	}
	return t.clone(), true
}

// TopicID returns a topic's ID without copying the topic (hot paths).
func (s *Store) TopicID(name string) ([16]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t, ok := s.topics[name]; ok {
		return t.ID, true
	}
	return [16]byte{}, false
}

// TopicName returns the name of the topic with this ID without copying it.
func (s *Store) TopicName(id TopicID) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t, ok := s.byID[id]; ok {
		return t.Name, true
	}
	return "", false
}

// Topics returns copies of all topics sorted by name.
func (s *Store) Topics() []Topic {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Topic, 0, len(s.topics))
	for _, t := range s.topics {
		out = append(out, t.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CreateTopic adds a topic. before runs under the store lock after the
// existence check and before the record is written (the broker creates the
// partition directories there, so a visible topic always has its logs).
func (s *Store) CreateTopic(name string, partitions int32, configs map[string]string, before func(Topic) error) (Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[name]; ok {
		return Topic{}, ErrTopicExists
	}
	id := NewTopicID()
	t := Topic{Name: name, ID: id, Partitions: partitions, Configs: configs}
	if before != nil {
		if err := before(t); err != nil {
			return Topic{}, err
		}
	}
	if err := s.commit(Record{Type: "topic", Name: name, ID: &id, Partitions: partitions, Configs: configs}); err != nil {
		return Topic{}, err
	}
	return s.topics[name].clone(), nil
}

// DeleteTopic removes a topic; after runs under the lock once it is gone.
func (s *Store) DeleteTopic(name string, after func(Topic)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.topics[name]
	if !ok {
		return ErrUnknownTopic
	}
	old := t.clone()
	if err := s.commit(Record{Type: "delete_topic", Name: name}); err != nil {
		return err
	}
	if after != nil {
		after(old)
	}
	return nil
}

// SetPartitions raises a topic's partition count; before runs under the lock
// before the record is written.
func (s *Store) SetPartitions(name string, count int32, before func(Topic) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.topics[name]
	if !ok {
		return ErrUnknownTopic
	}
	if before != nil {
		if err := before(t.clone()); err != nil {
			return err
		}
	}
	return s.commit(Record{Type: "partitions", Name: name, Partitions: count})
}

// SetConfigs replaces a topic's explicit configs.
func (s *Store) SetConfigs(name string, configs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[name]; !ok {
		return ErrUnknownTopic
	}
	return s.commit(Record{Type: "configs", Name: name, Configs: configs})
}

// BrokerConfigs returns the broker configs set at run time for a scope
// ("" for the cluster-wide defaults, or a node ID).
func (s *Store) BrokerConfigs(scope string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.brokerConfigs[scope])
}

// SetBrokerConfigs replaces the run-time broker configs of a scope.
func (s *Store) SetBrokerConfigs(scope string, configs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit(Record{Type: "broker_configs", Name: scope, Configs: maps.Clone(configs)})
}

// GroupConfigs returns the dynamic configs of a group (nil when it has
// none). A group need not exist to have configs, as in Kafka, where they
// are kept by the controller apart from the group's own state.
func (s *Store) GroupConfigs(group string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.groupConfigs[group])
}

// GroupConfig returns one dynamic config of a group without copying the
// rest (read on every KIP-848 heartbeat).
func (s *Store) GroupConfig(group, name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.groupConfigs[group][name]
	return v, ok
}

// SetGroupConfigs replaces the dynamic configs of a group; an empty set
// removes the group's entry.
func (s *Store) SetGroupConfigs(group string, configs map[string]string) error {
	if group == "" {
		return errors.New("group configs need a group ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit(Record{Type: "group_configs", Name: group, Configs: maps.Clone(configs)})
}

const pidBlockSize = 1000

// NextProducerID allocates a producer ID that was never handed out before,
// also across restarts and crashes.
func (s *Store) NextProducerID() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nextPID >= s.pidBlockEnd {
		if err := s.commit(Record{Type: "producer_ids", NextPID: s.pidBlockEnd + pidBlockSize}); err != nil {
			return 0, err
		}
	}
	id := s.nextPID
	s.nextPID++
	return id, nil
}
