package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Raw end-to-end producing (E2EConfig with Raw set) is the raw producer of
// produce_raw.go at a fixed rate with every record stamped: instead of
// resending pre-built requests, each connection's writer builds every
// request when it is about to send it, from the records that fell due since
// its last one, as a client with no linger sends what accumulated while its
// requests were in flight. Record k of a connection is due at
// start + k/rate and carries that time, not the time it was sent, so the
// time a record waits in the "client" for a free request slot counts in its
// latency, as it does for a kgo record (and a writer that falls behind
// cannot hide it). The schedule is a Limiter's (Take). The records stick
// to a partition for a batch's worth, as the kgo producer's partitioner
// makes them. What the client spends per record is a copy of the value and
// its share of the CRC, so the latency is the broker's and the network's.

// pacedBatchSize is the size of a v2 record batch of n keyless records
// without headers, each with valueSize bytes of value and timestamp delta
// 0, as appendPacedBatch encodes it.
func pacedBatchSize(n, valueSize int) int {
	size := recordBatchHeaderSize
	for i := range n {
		body := recordBodySize(i, valueSize)
		size += varintLen(int64(body)) + body
	}
	return size
}

// appendPacedBatch appends a v2 record batch (non-idempotent, base offset
// 0, uncompressed) of len(stamps) records, each a copy of value with its
// first 8 bytes replaced by the stamp, all with timestamp ts (ms), and sets
// its length and CRC. value must have at least 8 bytes.
func appendPacedBatch(dst []byte, value []byte, stamps []int64, ts int64) []byte {
	n := len(stamps)
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, 0)          // base offset
	dst = append(dst, 0, 0, 0, 0)                        // length, set below
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // partition leader epoch -1
	dst = append(dst, 2)                                 // magic
	dst = append(dst, 0, 0, 0, 0)                        // CRC, set below
	dst = binary.BigEndian.AppendUint16(dst, 0)          // attributes
	dst = binary.BigEndian.AppendUint32(dst, uint32(n-1))
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts))
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts))
	dst = binary.BigEndian.AppendUint64(dst, 0xffffffffffffffff) // producer ID -1
	dst = binary.BigEndian.AppendUint16(dst, 0xffff)             // producer epoch -1
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)         // base sequence -1
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	for i, stamp := range stamps {
		dst = binary.AppendVarint(dst, int64(recordBodySize(i, len(value))))
		dst = append(dst, 0, 0) // attributes, timestamp delta 0
		dst = binary.AppendVarint(dst, int64(i))
		dst = binary.AppendVarint(dst, -1) // null key
		dst = binary.AppendVarint(dst, int64(len(value)))
		v := len(dst)
		dst = append(dst, value...)
		binary.BigEndian.PutUint64(dst[v:], uint64(stamp))
		dst = append(dst, 0) // no headers
	}
	binary.BigEndian.PutUint32(dst[start+8:], uint32(len(dst)-start-12))
	binary.BigEndian.PutUint32(dst[start+17:], crc32.Checksum(dst[start+21:], castagnoli))
	return dst
}

// pacedRequest builds Produce requests of stamped records for one leader
// into a buffer it reuses. Records stick to one partition until a full
// batch (perBatch records) went to it and then move to the next, as kgo's
// uniform-bytes partitioner in the kgo producer does.
type pacedRequest struct {
	s      *rawProducers
	l      *rawLeader
	value  []byte
	buf    []byte
	stamps []int64
	cur    int // the partition (index into l.partitions) records go to
	used   int // records that went to it
}

// room is the most records one request can take: the rest of the current
// partition's batch and a full batch for every other partition, so that no
// partition appears twice, and at most 126 partitions in all, so that
// their count takes one byte in the flexible versions.
func (r *pacedRequest) room() int {
	return r.s.perBatch - r.used + r.s.perBatch*min(len(r.l.partitions)-1, 125)
}

// build encodes the whole frame (size, header with correlation ID corr,
// body) of a Produce request with n records (at most room()), stamped
// first, first+step, first+2*step, ... It returns the frame and how many
// partitions it names.
func (r *pacedRequest) build(corr int32, n int, first int64, step float64) ([]byte, int) {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(r.l.version)
	flexible := req.IsFlexible()
	parts := r.l.partitions

	b := appendRequestHeader(r.buf[:0], req, corr, rawProducerClientID)
	if flexible {
		b = append(b, 0) // null transactional ID (compact)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(r.s.acks))
	b = binary.BigEndian.AppendUint32(b, rawProduceTimeoutMs)
	b = appendArrayLen(b, 1, flexible)
	switch {
	case r.l.version >= 13:
		b = append(b, r.s.topicID[:]...)
	case flexible:
		b = binary.AppendUvarint(b, uint64(len(r.s.topic))+1)
		b = append(b, r.s.topic...)
	default:
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.s.topic)))
		b = append(b, r.s.topic...)
	}
	// The partition count goes here once the records are placed: one byte
	// in the flexible versions (see room), four before.
	countAt := len(b)
	b = appendArrayLen(b, 0, flexible)
	ts := time.Now().UnixMilli()
	np := 0
	for k := 0; k < n; np++ {
		chunk := min(n-k, r.s.perBatch-r.used)
		r.stamps = r.stamps[:0]
		for i := range chunk {
			r.stamps = append(r.stamps, first+int64(float64(k+i)*step))
		}
		b = binary.BigEndian.AppendUint32(b, uint32(parts[r.cur]))
		size := pacedBatchSize(chunk, len(r.value))
		if flexible {
			b = binary.AppendUvarint(b, uint64(size)+1)
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(size))
		}
		b = appendPacedBatch(b, r.value, r.stamps, ts)
		if flexible {
			b = append(b, 0) // partition tags
		}
		k += chunk
		if r.used += chunk; r.used == r.s.perBatch {
			r.cur, r.used = (r.cur+1)%len(parts), 0
		}
	}
	if flexible {
		b[countAt] = byte(np + 1)
		b = append(b, 0, 0) // topic tags, request tags
	} else {
		binary.BigEndian.PutUint32(b[countAt:], uint32(np))
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	r.buf = b
	return b, np
}

// appendArrayLen appends an array's length, compact in flexible versions.
func appendArrayLen(b []byte, n int, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(b, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// writePaced sends requests of the records due on this connection, at
// c.rate records/s, until the run stops, then closes pending. It waits for
// a free request slot first, so that records pile up while every slot is
// taken, and then sends all that are due (at most a full batch per
// partition), or sleeps until the next one is.
func (c *rawConn) writePaced(ctx context.Context, pending chan<- rawPending, slots chan struct{}) {
	defer close(pending)
	s := c.s
	r := &pacedRequest{s: s, l: c.l, value: payload(s.cfg.RecordSize, uint64(c.l.node)+1)}
	// The buffer for the largest request, so that it never grows (and
	// makes the load generator collect garbage) during the run.
	r.buf = make([]byte, 0, 4096+min(len(c.l.partitions), 126)*(64+pacedBatchSize(s.perBatch, s.cfg.RecordSize)))
	lim := NewLimiter(nil, c.rate)
	step := float64(time.Second) / c.rate // ns between records
	var corr int32
	for !s.stopped.Load() && ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n, firstDue, err := lim.Take(ctx, int64(r.room()))
		if err != nil {
			return
		}
		if n = s.reserve(n); n == 0 {
			break
		}
		corr++
		frame, parts := r.build(corr, int(n), int64(firstDue.Sub(s.stampBase)), step)
		pending <- rawPending{corr: corr, sent: time.Now(), partitions: parts, records: n, bytes: n * int64(s.cfg.RecordSize)}
		if err := c.conn.SetWriteDeadline(time.Now().Add(rawIOTimeout)); err != nil {
			s.fail(err)
			return
		}
		if _, err := c.conn.Write(frame); err != nil {
			s.fail(fmt.Errorf("produce to %s: %w", c.l.addr, err))
			return
		}
		s.sent.Add(n)
	}
}
