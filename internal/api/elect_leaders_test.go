package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// openElectionBroker opens a broker that is node 3 (so nothing can pass by
// assuming node 1) with topic "t" of two partitions and the first partition
// of __consumer_offsets created.
func openElectionBroker(t *testing.T) *Broker {
	t.Helper()
	b := openTestBroker(t, map[string]string{"node.id": "3", "offsets.topic.num.partitions": "1"})
	if _, err := b.createTopic("t", 2, 1, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.offsetsLog.partition(0); err != nil {
		t.Fatal(err)
	}
	return b
}

func electLeaders(b *Broker, version int16, how int8, topics map[string][]int32) *kmsg.ElectLeadersResponse {
	req := kmsg.NewPtrElectLeadersRequest()
	req.SetVersion(version)
	req.ElectionType = how
	if topics != nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		for topic, ps := range topics {
			req.Topics = append(req.Topics, kmsg.ElectLeadersRequestTopic{Topic: topic, Partitions: ps})
		}
	}
	return b.handleElectLeaders(req).(*kmsg.ElectLeadersResponse)
}

// electionCodes flattens a response to "topic-partition" -> error code.
func electionCodes(t *testing.T, resp *kmsg.ElectLeadersResponse) map[string]int16 {
	t.Helper()
	out := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			key := fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)
			if _, dup := out[key]; dup {
				t.Fatalf("%s answered twice", key)
			}
			out[key] = rp.ErrorCode
			if rp.ErrorCode != 0 && rp.ErrorMessage == nil {
				t.Errorf("%s: error %d without a message", key, rp.ErrorCode)
			}
		}
	}
	return out
}

// Every existing partition, internal or not, already has its preferred and
// only replica as leader: ELECTION_NOT_NEEDED for both election types and
// every version; unknown topics and partitions get UNKNOWN_TOPIC_OR_PARTITION.
func TestElectLeadersNamedPartitions(t *testing.T) {
	b := openElectionBroker(t)
	named := map[string][]int32{"t": {0, 1, 2, -1}, "__consumer_offsets": {0}, "nope": {0}}
	want := map[string]int16{
		"t-0":                  kerr.ElectionNotNeeded.Code,
		"t-1":                  kerr.ElectionNotNeeded.Code,
		"t-2":                  kerr.UnknownTopicOrPartition.Code,
		"t--1":                 kerr.UnknownTopicOrPartition.Code,
		"__consumer_offsets-0": kerr.ElectionNotNeeded.Code,
		"nope-0":               kerr.UnknownTopicOrPartition.Code,
	}
	for _, c := range []struct {
		version int16
		how     int8
	}{{0, electPreferred}, {1, electPreferred}, {1, electUnclean}, {2, electPreferred}, {2, electUnclean}} {
		resp := electLeaders(b, c.version, c.how, named)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d type %d: top-level error %d", c.version, c.how, resp.ErrorCode)
		}
		got := electionCodes(t, resp)
		if len(got) != len(want) {
			t.Fatalf("v%d type %d: answered %v, want %v", c.version, c.how, got, want)
		}
		for k, code := range want {
			if got[k] != code {
				t.Errorf("v%d type %d: %s error %d, want %d", c.version, c.how, k, got[k], code)
			}
		}
	}
}

// Null topics elect every partition: as Kafka's KRaft controller, every
// topic is listed, without the partitions whose election was not needed,
// so with one node no partition at all.
func TestElectLeadersAllPartitions(t *testing.T) {
	b := openElectionBroker(t)
	for _, how := range []int8{electPreferred, electUnclean} {
		resp := electLeaders(b, 2, how, nil)
		if resp.ErrorCode != 0 {
			t.Fatalf("type %d: top-level error %d", how, resp.ErrorCode)
		}
		var names []string
		for _, rt := range resp.Topics {
			names = append(names, rt.Topic)
			if len(rt.Partitions) != 0 {
				t.Errorf("type %d: topic %s lists %d partitions, want none", how, rt.Topic, len(rt.Partitions))
			}
		}
		if len(names) != 2 || names[0] != "__consumer_offsets" || names[1] != "t" {
			t.Fatalf("type %d: topics %v, want [__consumer_offsets t]", how, names)
		}
	}
	// An empty list (not null) elects nothing.
	if resp := electLeaders(b, 2, electPreferred, map[string][]int32{}); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Fatalf("empty list: error %d, %d topics; want nothing", resp.ErrorCode, len(resp.Topics))
	}
}

// An unknown election type fails the request: INVALID_REQUEST at the top
// and on every partition named, known or not.
func TestElectLeadersUnknownElectionType(t *testing.T) {
	b := openElectionBroker(t)
	resp := electLeaders(b, 2, 2, map[string][]int32{"t": {0}, "nope": {5}})
	if resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("top-level error %d, want INVALID_REQUEST", resp.ErrorCode)
	}
	got := electionCodes(t, resp)
	if len(got) != 2 || got["t-0"] != kerr.InvalidRequest.Code || got["nope-5"] != kerr.InvalidRequest.Code {
		t.Fatalf("partitions %v, want INVALID_REQUEST (%d) on t-0 and nope-5", got, kerr.InvalidRequest.Code)
	}
	if resp := electLeaders(b, 2, -1, nil); resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.Topics) != 0 {
		t.Fatalf("all partitions, type -1: error %d, %d topics; want INVALID_REQUEST and none", resp.ErrorCode, len(resp.Topics))
	}
}
