package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDeleteTopics(req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	// v0-v5 name topics in TopicNames; v6 in Topics, by name or by ID.
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	for _, n := range req.TopicNames {
		targets = append(targets, target{name: &n})
	}
	for _, t := range req.Topics {
		targets = append(targets, target{name: t.Topic, id: t.TopicID})
	}
	for _, t := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		var err error
		name := ""
		switch {
		case t.name != nil:
			name = *t.name
			st.Topic = t.name
			if mt, ok := b.meta.Topic(name); ok {
				st.TopicID = mt.ID
			}
		case t.id != [16]byte{}:
			st.TopicID = t.id
			if n, ok := b.topicNameByID(t.id); ok {
				name = n
				st.Topic = &n
			} else {
				err = errorf(kerr.UnknownTopicID, "no topic with ID %s", topicIDString(t.id))
			}
		default:
			err = errorf(kerr.InvalidRequest, "neither a topic name nor a topic ID given")
		}
		if err == nil {
			err = b.deleteTopic(name)
		}
		st.ErrorCode, st.ErrorMessage = codeOf(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
