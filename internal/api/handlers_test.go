package api

import (
	"context"
	"testing"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEveryAdvertisedAPIHasAHandler sends an empty request of every API key
// and version in the ApiVersions table through Handle: each must produce a
// response (the fallback for a key without a handler answers nothing).
func TestEveryAdvertisedAPIHasAHandler(t *testing.T) {
	b := openTestBroker(t, map[string]string{
		"offsets.topic.num.partitions": "1", "transaction.state.log.num.partitions": "1"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // waits (long polls, joins) end at once
	for key, vr := range supportedVersions {
		for v := vr[0]; v <= vr[1]; v++ {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			if p, ok := req.(*kmsg.ProduceRequest); ok {
				p.Acks = 1 // acks=0 is the one request without a response
			}
			reply := b.Handle(ctx, &server.RequestContext{APIKey: key, APIVersion: v}, req)
			if reply == nil {
				t.Fatalf("%s v%d: no response", kmsg.NameForKey(key), v)
			}
			if resp := reply(); resp.Msg == nil && resp.Body == nil {
				t.Fatalf("%s v%d: empty response", kmsg.NameForKey(key), v)
			}
		}
	}
}
