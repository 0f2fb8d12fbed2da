package log

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

const (
	// offsetMapEntryBytes is the memory one slot of the cleaner's offset map
	// takes: a 16-byte key hash and an 8-byte offset, as in Kafka's
	// SkimpyOffsetMap, so log.cleaner.dedupe.buffer.size means the same
	// number of keys here as there.
	offsetMapEntryBytes = 24
	// offsetMapLoadFactor is the fraction of slots that may be used
	// (log.cleaner.io.buffer.load.factor's default).
	offsetMapLoadFactor = 0.9
)

// keyHash is a 128-bit digest of a record key. It is the first half of the
// key's SHA-256: unlike the MD5 Kafka uses, a producer cannot craft two keys
// with the same digest, which would make the cleaner delete the latest value
// of one key in favour of another.
type keyHash struct{ a, b uint64 }

func hashKey(key []byte) keyHash {
	sum := sha256.Sum256(key)
	return keyHash{binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])}
}

// offsetSlot is one slot of the map: 24 bytes.
type offsetSlot struct {
	h   keyHash
	off int64 // the offset plus one; 0 marks an empty slot
}

// offsetMap maps key hashes to the latest offset seen for the key, in a
// fixed amount of memory: open addressing with double hashing over a prime
// number of slots, never more than offsetMapLoadFactor full.
type offsetMap struct {
	slots   []offsetSlot
	n       int // keys stored
	maxKeys int // keys allowed
}

// newOffsetMap sizes a map for at most want keys within bufferBytes of
// slots. It fails when bufferBytes cannot hold a single key.
func newOffsetMap(bufferBytes int64, want int64) (*offsetMap, error) {
	maxSlots := bufferBytes / offsetMapEntryBytes
	if int64(float64(maxSlots)*offsetMapLoadFactor) < 1 || maxSlots < 2 {
		return nil, fmt.Errorf("dedupe buffer of %d bytes cannot hold one key (%d bytes a slot, %.0f%% usable)",
			bufferBytes, offsetMapEntryBytes, offsetMapLoadFactor*100)
	}
	slots := maxSlots
	if want >= 0 && want < maxSlots {
		// A small dirty section needs a small map: want keys at most.
		slots = min(maxSlots, int64(float64(want)/offsetMapLoadFactor)+2)
	}
	slots = largestPrimeAtMost(max(slots, 2))
	return &offsetMap{
		slots:   make([]offsetSlot, slots),
		maxKeys: max(1, int(float64(slots)*offsetMapLoadFactor)),
	}, nil
}

// largestPrimeAtMost returns the largest prime <= n (n >= 2).
func largestPrimeAtMost(n int64) int64 {
	for ; n > 2; n-- {
		if isPrime(n) {
			return n
		}
	}
	return 2
}

func isPrime(n int64) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := int64(3); d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// find returns the slot holding h or the empty slot where it would go.
// Double hashing: the step is coprime with the prime slot count, so the
// probe sequence visits every slot; the load factor guarantees an empty one.
func (m *offsetMap) find(h keyHash) *offsetSlot {
	n := uint64(len(m.slots))
	i := h.a % n
	step := uint64(1)
	if n > 2 {
		step = 1 + h.b%(n-1)
	}
	for {
		s := &m.slots[i]
		if s.off == 0 || s.h == h {
			return s
		}
		i += step
		if i >= n {
			i -= n
		}
	}
}

// put records off as the latest offset of the key with hash h. It returns
// false, changing nothing, when h is a new key and the map is full.
func (m *offsetMap) put(h keyHash, off int64) bool {
	s := m.find(h)
	if s.off == 0 {
		if m.n >= m.maxKeys {
			return false
		}
		m.n++
		s.h = h
	}
	s.off = off + 1
	return true
}

// get returns the latest offset recorded for h.
func (m *offsetMap) get(h keyHash) (int64, bool) {
	s := m.find(h)
	if s.off == 0 {
		return 0, false
	}
	return s.off - 1, true
}

// len returns the number of keys stored.
func (m *offsetMap) len() int { return m.n }
