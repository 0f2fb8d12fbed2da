package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReadFetchStreamMatchesWalkBatches encodes Fetch responses with kmsg at
// several versions (topics, aborted transactions, a control batch, an
// already-read batch, a compressed one, a partial batch at the end, a
// partition with an error, values larger than the read buffer) and checks
// that the streamed walk finds what walkBatches finds in the decoded
// response, value for value.
func TestReadFetchStreamMatchesWalkBatches(t *testing.T) {
	big := bytes.Repeat([]byte{'b'}, 3*streamBufferBytes)
	p0 := append(append(append(rawBatch(10, 0, []byte("a"), []byte("bc")), rawBatch(12, 0x20, []byte("ctl"))...),
		rawBatch(13, 0, []byte("d"), big)...), rawBatch(15, 0, []byte("partial"))[:40]...)
	p1 := append(rawBatch(0, 0, []byte("old")), rawBatch(1, 0x04, []byte("lz4-ish"))...)
	p2 := rawBatch(7, 0, []byte("x"))
	from := map[int32]int64{0: 10, 1: 1, 2: 7, 3: 0}
	for _, v := range []int16{4, 5, 7, 11, 12, 13, 16} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = v
			resp.SessionID = 5
			for ti, parts := range [][]int32{{0, 1}, {2, 3}} {
				rt := kmsg.NewFetchResponseTopic()
				rt.Topic = fmt.Sprintf("topic-%d", ti)
				rt.TopicID[0] = byte(ti + 1)
				for _, p := range parts {
					rp := kmsg.NewFetchResponseTopicPartition()
					rp.Partition = p
					rp.HighWatermark = 20
					switch p {
					case 0:
						rp.RecordBatches = p0
						rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 3, FirstOffset: 11}}
					case 1:
						rp.RecordBatches = p1
					case 2:
						rp.RecordBatches = p2
					case 3:
						rp.ErrorCode = 1
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			body := resp.AppendTo(nil)

			type seen struct {
				w      partitionWalk
				values []string
			}
			want := map[int32]seen{}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					var vals []string
					next, recs, pb, err := walkBatches(rp.RecordBatches, from[rp.Partition], func(v []byte) { vals = append(vals, string(v)) })
					if err != nil {
						t.Fatal(err)
					}
					want[rp.Partition] = seen{partitionWalk{rp.Partition, rp.ErrorCode, next, recs, pb}, vals}
				}
			}

			r := &frameReader{br: bufio.NewReaderSize(bytes.NewReader(body), streamBufferBytes), left: len(body)}
			var vals []string
			got := map[int32]seen{}
			err := readFetchStream(r, v, func(p int32) int64 { return from[p] }, func(v []byte) { vals = append(vals, string(v)) },
				func(w partitionWalk) error {
					got[w.partition] = seen{w, vals}
					vals = nil
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d partitions walked, want %d", len(got), len(want))
			}
			for p, w := range want {
				g := got[p]
				if g.w != w.w || fmt.Sprint(g.values) != fmt.Sprint(w.values) {
					t.Errorf("partition %d: got %+v with %d values, want %+v with %d values", p, g.w, len(g.values), w.w, len(w.values))
				}
			}
		})
	}
}

// TestReadFetchStreamRejectsDamage feeds truncated and inflated responses:
// each must end with an error, never a panic or a hang.
func TestReadFetchStreamRejectsDamage(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = "t"
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.RecordBatches = rawBatch(0, 0, []byte("v"))
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	body := resp.AppendTo(nil)
	for cut := 0; cut < len(body); cut++ {
		r := &frameReader{br: bufio.NewReaderSize(bytes.NewReader(body[:cut]), 64), left: len(body)}
		if err := readFetchStream(r, 12, func(int32) int64 { return 0 }, nil, func(partitionWalk) error { return nil }); err == nil {
			t.Fatalf("response cut at %d of %d bytes accepted", cut, len(body))
		}
	}
	long := binary.BigEndian.AppendUint32(append([]byte(nil), body...), 0)
	r := &frameReader{br: bufio.NewReaderSize(bytes.NewReader(long), 64), left: len(long)}
	if err := readFetchStream(r, 12, func(int32) int64 { return 0 }, nil, func(partitionWalk) error { return nil }); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}
