package api

import (
	"strings"
	"testing"
	"time"

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

// TestCleanerSettingsLayers: a cleaner property set at run time replaces
// the properties file's, and only that one: the others keep the file's
// values, not the built-in defaults.
func TestCleanerSettingsLayers(t *testing.T) {
	b := openTestBroker(t, map[string]string{
		"log.cleaner.backoff.ms":              "1000",
		"log.cleaner.dedupe.buffer.size":      "2097152",
		"log.cleaner.io.max.bytes.per.second": "5000000",
	})
	s, backoff := b.cleanerSettings()
	if backoff != time.Second || s.DedupeBufferBytes != 2<<20 || s.IOMaxBytesPerSecond != 5e6 {
		t.Fatalf("from the file: %+v, backoff %v", s, backoff)
	}
	if err := b.setBrokerConfigs("", map[string]string{"log.cleaner.backoff.ms": "50"}, false); err != nil {
		t.Fatal(err)
	}
	s, backoff = b.cleanerSettings()
	if backoff != 50*time.Millisecond || s.DedupeBufferBytes != 2<<20 || s.IOMaxBytesPerSecond != 5e6 {
		t.Fatalf("after setting the backoff: %+v, backoff %v; the other two should keep the file's values", s, backoff)
	}
}
