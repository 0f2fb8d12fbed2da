package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleCreateTopics(req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := make(map[string]int)
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		var err error
		switch {
		case seen[rt.Topic] > 1:
			err = errorf(kerr.InvalidRequest, "topic %q appears more than once in the request", rt.Topic)
		default:
			configs := make(map[string]string, len(rt.Configs))
			for _, c := range rt.Configs {
				if c.Value == nil {
					err = errorf(kerr.InvalidConfig, "null value for config %s", c.Name)
					break
				}
				configs[c.Name] = *c.Value
			}
			partitions := rt.NumPartitions
			if err == nil && len(rt.ReplicaAssignment) > 0 {
				partitions, err = b.assignedPartitions(rt)
			}
			if err == nil {
				t, cerr := b.createTopic(rt.Topic, partitions, rt.ReplicationFactor, configs, req.ValidateOnly)
				err = cerr
				if err == nil {
					st.TopicID = t.ID
					st.NumPartitions = t.Partitions
					st.ReplicationFactor = 1
					st.Configs = b.describeTopicConfigs(t.Configs)
				}
			}
		}
		st.ErrorCode, st.ErrorMessage = codeOf(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// describeTopicConfigs lists a topic's effective configs for CreateTopics v5+.
func (b *Broker) describeTopicConfigs(explicit map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	for name := range topicConfigs {
		v, src := b.topicConfigValue(explicit, name)
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = name
		c.Value = &v
		c.Source = int8(src)
		out = append(out, c)
	}
	return out
}
