package api

import "testing"

// TestPreallocateFollowsFlushPolicy checks that a partition that fsyncs
// every append reserves nothing ahead, and that one leaving flushing to the
// OS gets the broker's samsa.log.preallocate.bytes, from the broker default
// or from the topic's own flush.messages.
func TestPreallocateFollowsFlushPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broker map[string]string
		topic  map[string]string
		want   int64
	}{
		{"broker default fsyncs each append", nil, nil, 0},
		{"broker leaves flushing to the OS", map[string]string{"log.flush.interval.messages": "9223372036854775807"}, nil, 8 << 20},
		{"topic leaves flushing to the OS", nil, map[string]string{"flush.messages": "10000"}, 8 << 20},
		{"topic fsyncs each append", map[string]string{"log.flush.interval.messages": "9223372036854775807"}, map[string]string{"flush.messages": "1"}, 0},
		{"set size", map[string]string{"log.flush.interval.messages": "9223372036854775807", "samsa.log.preallocate.bytes": "1048576"}, nil, 1 << 20},
		{"turned off", map[string]string{"log.flush.interval.messages": "9223372036854775807", "samsa.log.preallocate.bytes": "0"}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBroker(t, tc.broker)
			c, err := b.partitionConfig(tc.topic)
			if err != nil {
				t.Fatal(err)
			}
			if c.Log.PreallocateBytes != tc.want {
				t.Fatalf("PreallocateBytes = %d, want %d", c.Log.PreallocateBytes, tc.want)
			}
		})
	}
}
