package api

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzRequest feeds arbitrary request frames through the real decoder and
// the real handlers of a broker on a temp dir: nothing may panic or hang.
func FuzzRequest(f *testing.F) {
	// Seeds: one well-formed request of every advertised API at its
	// lowest and highest version.
	for key, vr := range supportedVersions {
		for _, v := range []int16{vr[0], vr[1]} {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			switch r := req.(type) {
			case *kmsg.ProduceRequest:
				r.Acks = 1
				r.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: make([]byte, 70)}}}}
			case *kmsg.FetchRequest:
				r.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{{PartitionMaxBytes: 100}}}}
			case *kmsg.CreateTopicsRequest:
				r.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 2, ReplicationFactor: 1}}
			case *kmsg.MetadataRequest:
				name := "t"
				r.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
			case *kmsg.ElectLeadersRequest:
				r.ElectionType = 1
				r.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
			case *kmsg.AlterPartitionAssignmentsRequest:
				r.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: "t", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{
					{Partition: 0, Replicas: []int32{1}}, {Partition: 1}}}}
			case *kmsg.ListPartitionReassignmentsRequest:
				r.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{{Topic: "t", Partitions: []int32{0}}}
			case *kmsg.IncrementalAlterConfigsRequest:
				v := "50000"
				r.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: "g",
					Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "consumer.session.timeout.ms", Value: &v}}}}
			case *kmsg.DescribeConfigsRequest:
				r.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: "g"}}
			}
			frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz")).AppendRequest(nil, req, 1)
			f.Add(frame[4:])
		}
	}
	b := openTestBroker(f, map[string]string{"fetch.max.bytes": "4096"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // long polls return at once
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) >= 2 && binary.BigEndian.Uint16(frame) == 20 {
			return // DeleteTopics would only make later inputs less interesting
		}
		rc, req, err := server.DecodeRequest(frame, b.Versions)
		if err != nil {
			return
		}
		if tooBig(req) {
			return // thousands of partitions make every later Metadata slow
		}
		if reply := b.Handle(ctx, rc, req); reply != nil {
			resp := reply()
			if resp.Release != nil {
				resp.Release()
			}
			if resp.Msg != nil {
				resp.Msg.SetVersion(req.GetVersion())
				resp.Msg.AppendTo(nil)
			}
		}
	})
}

func tooBig(req kmsg.Request) bool {
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		for _, t := range r.Topics {
			if t.NumPartitions > 64 {
				return true
			}
		}
	case *kmsg.CreatePartitionsRequest:
		for _, t := range r.Topics {
			if t.Count > 64 {
				return true
			}
		}
	}
	return false
}
