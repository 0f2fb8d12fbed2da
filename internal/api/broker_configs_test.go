package api

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A refused dynamic broker config says why, not only that the value is bad.
func TestBrokerConfigInvalidValueSaysWhy(t *testing.T) {
	b := openTestBroker(t, nil)
	v := "-5"
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, ""
	res.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "log.retention.ms", Op: opSet, Value: &v}}
	req.Resources = append(req.Resources, res)
	resp := b.handleIncrementalAlterConfigs(req).(*kmsg.IncrementalAlterConfigsResponse)
	if len(resp.Resources) != 1 {
		t.Fatalf("got %d resources, want 1", len(resp.Resources))
	}
	r := resp.Resources[0]
	if r.ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("error code %d, want INVALID_CONFIG (%d)", r.ErrorCode, kerr.InvalidConfig.Code)
	}
	if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "log.retention.ms") || !strings.Contains(*r.ErrorMessage, "want an integer in [-1,") {
		t.Fatalf("error message %v, want the config name and the reason", deref(r.ErrorMessage))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
