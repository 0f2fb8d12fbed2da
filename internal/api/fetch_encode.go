package api

import (
	"encoding/binary"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeFetchResponse writes a FetchResponse body (after the response
// header) with each partition's records as a file range, so the data goes
// from the page cache to the socket with sendfile. kmsg cannot do this (it
// needs the records in memory), so this one response is encoded by hand;
// fetch_encode_test.go checks it byte for byte against kmsg at every
// version. Consecutive partitions of one topic share a topic entry.
func encodeFetchResponse(resp *kmsg.FetchResponse, results []partResult) []server.Part {
	v := resp.Version
	flex := v >= 12
	// At most a byte part before each partition's file part, and one after.
	e := fetchEncoder{flex: flex, buf: make([]byte, 0, 64+96*len(results)),
		parts: make([]server.Part, 0, 2*len(results)+1)}
	if v >= 1 {
		e.int32(resp.ThrottleMillis)
	}
	if v >= 7 {
		e.int16(resp.ErrorCode)
		e.int32(resp.SessionID)
	}
	// Group consecutive partitions by topic.
	type group struct{ from, to int }
	var groups []group
	for i := range results {
		if i > 0 && results[i].name == results[i-1].name && results[i].id == results[i-1].id {
			groups[len(groups)-1].to = i + 1
			continue
		}
		groups = append(groups, group{i, i + 1})
	}
	e.arrayLen(len(groups))
	for _, g := range groups {
		first := &results[g.from]
		if v >= 13 {
			e.buf = append(e.buf, first.id[:]...)
		} else {
			e.string(first.name)
		}
		e.arrayLen(g.to - g.from)
		for i := g.from; i < g.to; i++ {
			r := &results[i]
			p := &r.resp
			e.int32(p.Partition)
			e.int16(p.ErrorCode)
			e.int64(p.HighWatermark)
			if v >= 4 {
				e.int64(p.LastStableOffset)
			}
			if v >= 5 {
				e.int64(p.LogStartOffset)
			}
			if v >= 4 {
				e.nullableArrayLen(p.AbortedTransactions == nil, len(p.AbortedTransactions))
				for _, a := range p.AbortedTransactions {
					e.int64(a.ProducerID)
					e.int64(a.FirstOffset)
					e.tags()
				}
			}
			if v >= 11 {
				e.int32(p.PreferredReadReplica)
			}
			// Records: bytes (never null; empty when there is no data).
			if flex {
				e.uvarint(uint64(r.rr.Size) + 1)
			} else {
				e.int32(int32(r.rr.Size))
			}
			if r.rr.Size > 0 {
				e.file(server.Part{File: r.rr.File, Pos: r.rr.Pos, Size: r.rr.Size})
			}
			e.tags()
		}
		e.tags()
	}
	e.tags()
	return e.finish()
}

// fetchEncoder writes every byte part into one buffer. Until finish, a
// byte part records its range of buf in Pos and Size (buf may still move
// as it grows); finish then slices buf into the parts.
type fetchEncoder struct {
	flex  bool
	buf   []byte
	done  int // bytes of buf already covered by parts
	parts []server.Part
}

// cut ends the current byte part, if it holds anything.
func (e *fetchEncoder) cut() {
	if len(e.buf) > e.done {
		e.parts = append(e.parts, server.Part{Pos: int64(e.done), Size: int64(len(e.buf) - e.done)})
		e.done = len(e.buf)
	}
}

// file adds a file part after the bytes written so far.
func (e *fetchEncoder) file(p server.Part) {
	e.cut()
	e.parts = append(e.parts, p)
}

// finish returns the parts, the byte ones now slices of the final buffer.
func (e *fetchEncoder) finish() []server.Part {
	e.cut()
	for i := range e.parts {
		if p := &e.parts[i]; p.File == nil {
			end := p.Pos + p.Size
			p.Bytes, p.Pos, p.Size = e.buf[p.Pos:end:end], 0, 0
		}
	}
	return e.parts
}

func (e *fetchEncoder) int16(x int16) { e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(x)) }
func (e *fetchEncoder) int32(x int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(x)) }
func (e *fetchEncoder) int64(x int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(x)) }
func (e *fetchEncoder) uvarint(x uint64) {
	e.buf = binary.AppendUvarint(e.buf, x)
}

func (e *fetchEncoder) tags() {
	if e.flex {
		e.buf = append(e.buf, 0)
	}
}

func (e *fetchEncoder) arrayLen(n int) {
	if e.flex {
		e.uvarint(uint64(n) + 1)
	} else {
		e.int32(int32(n))
	}
}

func (e *fetchEncoder) nullableArrayLen(null bool, n int) {
	switch {
	case null && e.flex:
		e.uvarint(0)
	case null:
		e.int32(-1)
	default:
		e.arrayLen(n)
	}
}

func (e *fetchEncoder) string(s string) {
	if e.flex {
		e.uvarint(uint64(len(s)) + 1)
	} else {
		e.int16(int16(len(s)))
	}
	e.buf = append(e.buf, s...)
}
