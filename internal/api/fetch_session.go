package api

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Incremental fetch sessions (KIP-227): a consumer sends its partition list
// once; later requests carry only changes, and responses only partitions
// with news (records, errors, or a moved high watermark or log start).

const (
	finalEpoch   = -1
	initialEpoch = 0
)

// fetchKey names a partition as the client does: by topic name before Fetch
// v13, by topic ID from v13 on.
type fetchKey struct {
	id        [16]byte
	topic     string
	partition int32
}

// fetchPartition is one partition of a fetch (or of a session).
type fetchPartition struct {
	fetchKey
	// name is, from v13, the topic's name when the partition entered the
	// request or session ("" for an unknown ID), the one reads use, as
	// Kafka's session caches it: a topic deleted since is then
	// UNKNOWN_TOPIC_OR_PARTITION, or INCONSISTENT_TOPIC_ID once created
	// again under that name.
	name               string
	fetchOffset        int64
	maxBytes           int32
	currentLeaderEpoch int32

	// What the session last told the client, to decide what is news.
	sentHW, sentLogStart int64
}

type fetchSession struct {
	mu       sync.Mutex
	id       int32
	epoch    int32 // epoch the next request must carry
	parts    []*fetchPartition
	byKey    map[fetchKey]*fetchPartition
	lastUsed time.Time
}

type fetchSessions struct {
	mu   sync.Mutex
	byID map[int32]*fetchSession
	max  int
	// names resolves a topic ID to its name (from v13).
	names func(id [16]byte) (string, bool)
}

func newFetchSessions(max int, names func(id [16]byte) (string, bool)) *fetchSessions {
	return &fetchSessions{byID: make(map[int32]*fetchSession), max: max, names: names}
}

func nextEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// fetchPlan is what one Fetch request must read.
type fetchPlan struct {
	parts       []*fetchPartition
	session     *fetchSession // nil: sessionless
	incremental bool          // respond with changed partitions only
}

func (s *fetchSessions) requestPartitions(req *kmsg.FetchRequest) []*fetchPartition {
	n := 0
	for _, rt := range req.Topics {
		n += len(rt.Partitions)
	}
	backing := make([]fetchPartition, n) // one allocation for all of them
	out := make([]*fetchPartition, 0, n)
	for _, rt := range req.Topics {
		key, name := fetchKey{topic: rt.Topic}, ""
		if req.Version >= 13 {
			key = fetchKey{id: rt.TopicID}
			name, _ = s.names(rt.TopicID) // once per topic, not per partition
		}
		for _, rp := range rt.Partitions {
			fp := &backing[len(out)]
			key.partition = rp.Partition
			*fp = fetchPartition{
				fetchKey: key, name: name,
				fetchOffset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes,
				currentLeaderEpoch: rp.CurrentLeaderEpoch, sentHW: -1, sentLogStart: -1,
			}
			out = append(out, fp)
		}
	}
	return out
}

// plan applies the request to the session cache. A non-zero error code is a
// top-level error (the response then carries no partitions).
func (s *fetchSessions) plan(req *kmsg.FetchRequest, now time.Time) (fetchPlan, int16) {
	if req.Version < 7 {
		return fetchPlan{parts: s.requestPartitions(req)}, 0
	}
	switch {
	case req.SessionEpoch == finalEpoch:
		if req.SessionID != 0 {
			s.remove(req.SessionID)
		}
		return fetchPlan{parts: s.requestPartitions(req)}, 0
	case req.SessionEpoch == initialEpoch:
		if req.SessionID != 0 {
			s.remove(req.SessionID)
		}
		parts := s.requestPartitions(req)
		sess := s.create(parts, now)
		if sess == nil { // cache full of recently used sessions: serve sessionless
			return fetchPlan{parts: parts}, 0
		}
		return fetchPlan{parts: snapshotParts(parts), session: sess}, 0
	}
	s.mu.Lock()
	sess := s.byID[req.SessionID]
	s.mu.Unlock()
	if sess == nil {
		return fetchPlan{}, kerr.FetchSessionIDNotFound.Code
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if req.SessionEpoch != sess.epoch {
		return fetchPlan{}, kerr.InvalidFetchSessionEpoch.Code
	}
	sess.epoch = nextEpoch(sess.epoch)
	sess.lastUsed = now
	for _, fp := range s.requestPartitions(req) {
		if have := sess.byKey[fp.fetchKey]; have != nil {
			have.fetchOffset, have.maxBytes, have.currentLeaderEpoch = fp.fetchOffset, fp.maxBytes, fp.currentLeaderEpoch
			continue
		}
		sess.byKey[fp.fetchKey] = fp
		sess.parts = append(sess.parts, fp)
	}
	for _, ft := range req.ForgottenTopics {
		for _, p := range ft.Partitions {
			k := fetchKey{partition: p}
			if req.Version >= 13 {
				k.id = ft.TopicID
			} else {
				k.topic = ft.Topic
			}
			delete(sess.byKey, k)
		}
	}
	kept := sess.parts[:0]
	for _, fp := range sess.parts {
		if sess.byKey[fp.fetchKey] == fp {
			kept = append(kept, fp)
		}
	}
	sess.parts = kept
	if len(kept) == 0 {
		// Emptied by ForgottenTopics: Kafka closes the session and answers
		// sessionless (session ID 0), so the client starts a new one.
		s.remove(sess.id)
		return fetchPlan{}, 0
	}
	return fetchPlan{parts: snapshotParts(kept), session: sess, incremental: true}, 0
}

// snapshotParts copies session partitions so that a fetch waiting for data
// reads stable values while the next request updates the session.
func snapshotParts(parts []*fetchPartition) []*fetchPartition {
	out := make([]*fetchPartition, len(parts))
	for i, fp := range parts {
		c := *fp
		out[i] = &c
	}
	return out
}

func (s *fetchSessions) create(parts []*fetchPartition, now time.Time) *fetchSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max {
		// Evict the least recently used session if it has been idle a while.
		var lru *fetchSession
		for _, x := range s.byID {
			if lru == nil || x.lastUsed.Before(lru.lastUsed) {
				lru = x
			}
		}
		if now.Sub(lru.lastUsed) < time.Minute {
			return nil
		}
		delete(s.byID, lru.id)
	}
	sess := &fetchSession{epoch: 1, parts: append([]*fetchPartition(nil), parts...),
		byKey: make(map[fetchKey]*fetchPartition, len(parts)), lastUsed: now}
	for _, fp := range parts {
		sess.byKey[fp.fetchKey] = fp
	}
	for {
		id := rand.Int32N(math.MaxInt32-1) + 1
		if s.byID[id] == nil {
			sess.id = id
			break
		}
	}
	s.byID[sess.id] = sess
	return sess
}

func (s *fetchSessions) remove(id int32) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// sent records what an incremental session told the client and moves
// partitions that returned records to the back, so that one busy partition
// cannot starve the others of response bytes.
func (sess *fetchSession) sent(results []partResult) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	var moved []*fetchPartition
	for _, r := range results {
		fp := sess.byKey[r.fp.fetchKey]
		if fp == nil {
			continue
		}
		fp.sentHW, fp.sentLogStart = r.resp.HighWatermark, r.resp.LogStartOffset
		if r.rr.Size > 0 {
			moved = append(moved, fp)
		}
	}
	if len(moved) == 0 {
		return
	}
	isMoved := make(map[*fetchPartition]bool, len(moved))
	for _, fp := range moved {
		isMoved[fp] = true
	}
	kept := sess.parts[:0]
	for _, fp := range sess.parts {
		if !isMoved[fp] {
			kept = append(kept, fp)
		}
	}
	sess.parts = append(kept, moved...)
}
