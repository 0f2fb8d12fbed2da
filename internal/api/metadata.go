package api

import (
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleMetadata(req *kmsg.MetadataRequest) kmsg.Response {
	resp := b.metadataTopics(req)
	// v8-10 ask for the cluster's operations; v11+ have no such field.
	resp.AuthorizedOperations = authorizedOperations(req.Version <= 10 && req.IncludeClusterAuthorizedOperations, clusterOperations)
	// Every topic answered, found or not, as Kafka does (v8+).
	for i := range resp.Topics {
		resp.Topics[i].AuthorizedOperations = authorizedOperations(req.IncludeTopicAuthorizedOperations, topicOperations)
	}
	return resp
}

func (b *Broker) metadataTopics(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	adv := b.cfg.AdvertisedListeners[0]
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: b.cfg.NodeID, Host: adv.Host, Port: adv.Port}}
	resp.ClusterID = &b.clusterID
	resp.ControllerID = b.cfg.NodeID

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range b.meta.Topics() {
			resp.Topics = append(resp.Topics, b.topicMetadata(t))
		}
		return resp
	}
	autoCreate := b.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		if rt.Topic == nil { // v10+: by topic ID
			t, ok := b.meta.TopicByID(rt.TopicID)
			if !ok {
				resp.Topics = append(resp.Topics, kmsg.MetadataResponseTopic{ErrorCode: kerr.UnknownTopicID.Code, TopicID: rt.TopicID})
				continue
			}
			resp.Topics = append(resp.Topics, b.topicMetadata(t))
			continue
		}
		name := *rt.Topic
		t, ok := b.meta.Topic(name)
		if !ok && autoCreate {
			var err error
			t, err = b.createTopic(name, -1, -1, nil, false)
			ok = err == nil
			if err != nil {
				if code, _ := codeOf(err); code == kerr.TopicAlreadyExists.Code {
					t, ok = b.meta.Topic(name) // created concurrently
				} else {
					resp.Topics = append(resp.Topics, kmsg.MetadataResponseTopic{ErrorCode: code, Topic: &name})
					continue
				}
			}
		}
		if !ok {
			code := kerr.UnknownTopicOrPartition.Code
			if validateTopicName(name) != nil {
				code = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, kmsg.MetadataResponseTopic{ErrorCode: code, Topic: &name})
			continue
		}
		resp.Topics = append(resp.Topics, b.topicMetadata(t))
	}
	return resp
}

func (b *Broker) topicMetadata(t metadata.Topic) kmsg.MetadataResponseTopic {
	name := t.Name
	mt := kmsg.MetadataResponseTopic{Topic: &name, TopicID: t.ID, IsInternal: isInternalTopic(name)}
	node := b.cfg.NodeID
	for i := int32(0); i < t.Partitions; i++ {
		var epoch int32
		if p, _ := b.partition(t.Name, i); p != nil {
			epoch = p.LeaderEpoch()
		}
		mt.Partitions = append(mt.Partitions, kmsg.MetadataResponseTopicPartition{
			Partition: i, Leader: node, LeaderEpoch: epoch,
			Replicas: []int32{node}, ISR: []int32{node}, OfflineReplicas: []int32{},
		})
	}
	return mt
}
