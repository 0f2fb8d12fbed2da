package server

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkDecodeProduceRequest decodes a produce request of 16 partitions
// with a 64 KiB record set each, as the connection does for every frame.
func BenchmarkDecodeProduceRequest(b *testing.B) {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks = 9, -1
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "bench"
	for p := int32(0); p < 16; p++ {
		t.Partitions = append(t.Partitions, kmsg.ProduceRequestTopicPartition{Partition: p, Records: make([]byte, 64<<10)})
	}
	req.Topics = append(req.Topics, t)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)[4:]
	versions := func(int16) (int16, int16, bool) { return 0, 13, true }
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRequest(frame, versions); err != nil {
			b.Fatal(err)
		}
	}
}
