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

// DescribeConfigs answers for this broker (by ID or the cluster-wide "")
// and refuses another broker's ID.
func TestDescribeBrokerConfigsScope(t *testing.T) {
	b := openTestBroker(t, map[string]string{"node.id": "1"})
	for _, tc := range []struct {
		name string
		code int16
	}{{"", 0}, {"1", 0}, {"99", kerr.InvalidRequest.Code}} {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, tc.name
		rr.ConfigNames = []string{"log.retention.ms"}
		req.Resources = append(req.Resources, rr)
		resp := b.handleDescribeConfigs(req).(*kmsg.DescribeConfigsResponse)
		if len(resp.Resources) != 1 {
			t.Fatalf("broker %q: got %d resources, want 1", tc.name, len(resp.Resources))
		}
		r := resp.Resources[0]
		if r.ErrorCode != tc.code {
			t.Fatalf("broker %q: error code %d (%s), want %d", tc.name, r.ErrorCode, deref(r.ErrorMessage), tc.code)
		}
		wantConfigs := 1
		if tc.code != 0 {
			wantConfigs = 0
		}
		if len(r.Configs) != wantConfigs {
			t.Fatalf("broker %q: got %d configs, want %d", tc.name, len(r.Configs), wantConfigs)
		}
	}
}
