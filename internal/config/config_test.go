package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestParseProperties(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"comments and blank lines",
			"# a comment\n! another comment\n\n   \n  # indented comment\nnum.partitions=3\n",
			map[string]string{"num.partitions": "3"}},
		{"equals separator", "a=1\nb=2", map[string]string{"a": "1", "b": "2"}},
		{"colon separator", "a: 1\nb:2", map[string]string{"a": "1", "b": "2"}},
		{"whitespace around key and value", "  a   =   x y  \n\tb\t:\tz\t", map[string]string{"a": "x y", "b": "z"}},
		{"first separator splits", "listeners=PLAINTEXT://h:9092\nk:v=w\nx=y:z=q",
			map[string]string{"listeners": "PLAINTEXT://h:9092", "k": "v=w", "x": "y:z=q"}},
		{"empty value", "a=\nb:", map[string]string{"a": "", "b": ""}},
		{"last duplicate wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"CRLF line endings", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
		{"continuation", "log.dirs=/a,\\\n    /b\nc=d", map[string]string{"log.dirs": "/a,/b", "c": "d"}},
		{"continuation over three lines", "k = one \\\n two \\\n three", map[string]string{"k": "one two three"}},
		{"continuation line starting with # is not a comment", "a=x\\\n#y", map[string]string{"a": "x#y"}},
		{"continuation ended by blank line", "a=b\\\n\nc=d", map[string]string{"a": "b", "c": "d"}},
		{"key continued onto next line", "num.\\\npartitions=2", map[string]string{"num.partitions": "2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("ParseProperties: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePropertiesEscapedBackslashDoesNotContinue(t *testing.T) {
	// An even number of trailing backslashes is an escaped backslash, not a
	// continuation: the next line is a property of its own.
	got, err := ParseProperties(strings.NewReader("a=b\\\\\nc=d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got["c"] != "d" {
		t.Fatalf("c = %q, want d (the line after an escaped backslash was swallowed): %q", got["c"], got)
	}
	if _, ok := got["a"]; !ok {
		t.Fatalf("a missing: %q", got)
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	cases := []struct {
		name, in, wantInErr string
	}{
		{"no separator", "a=1\njust words\n", "line 2"},
		{"no separator after comments", "# c\n\n! c\nnoseparator", "line 4"},
		{"no separator after continuation", "a=1\nfoo\\\nbar", "line 3"},
		{"line too long", "a=" + strings.Repeat("x", 2<<20), "too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("no error, got %q", got)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantInErr)
			}
		})
	}
}

func TestFromPropertiesDefaults(t *testing.T) {
	got, ignored, err := FromProperties(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ignored) != 0 {
		t.Fatalf("ignored = %q", ignored)
	}
	want := Defaults()
	want.AdvertisedListeners = want.Listeners
	want.Props = map[string]string{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FromProperties({}) =\n%+v\nwant\n%+v", got, want)
	}
	// Spot-check the documented defaults themselves, so that a changed
	// default is a deliberate edit of this test too.
	checks := []struct {
		name      string
		got, want any
	}{
		{"node.id", got.NodeID, int32(1)},
		{"listeners", got.Listeners, []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}},
		{"log.dirs", got.LogDirs, []string{"./samsa-data"}},
		{"num.partitions", got.NumPartitions, int32(1)},
		{"default.replication.factor", got.DefaultReplicationFactor, int16(1)},
		{"auto.create.topics.enable", got.AutoCreateTopics, true},
		{"log.segment.bytes", got.LogSegmentBytes, int64(1 << 30)},
		{"log.roll.ms", got.LogRollMs, int64(168 * 3600 * 1000)},
		{"log.index.interval.bytes", got.LogIndexIntervalBytes, 4096},
		{"log.index.size.max.bytes", got.LogIndexSizeMaxBytes, 10 << 20},
		{"log.flush.interval.messages", got.LogFlushIntervalMsgs, int64(1)},
		{"log.flush.interval.ms", got.LogFlushIntervalMs, int64(0)},
		{"log.flush.offset.checkpoint.interval.ms", got.LogFlushOffsetCheckpointInterval, 60 * time.Second},
		{"log.message.timestamp.type", got.LogMessageTimestampLAT, false},
		{"message.max.bytes", got.MessageMaxBytes, int32(1048588)},
		{"socket.request.max.bytes", got.SocketRequestMaxBytes, int32(104857600)},
		{"connections.max.idle.ms", got.ConnectionsMaxIdle, 10 * time.Minute},
		{"queued.max.requests", got.QueuedMaxRequests, 500},
		{"fetch.max.bytes", got.FetchMaxBytes, int32(55 << 20)},
		{"shutdown timeout", got.ShutdownTimeout, 30 * time.Second},
		{"offsets.topic.num.partitions", got.OffsetsTopicPartitions, int32(50)},
		{"cluster.id", got.ClusterID, ""},
		{"group.consumer.min.session.timeout.ms", got.ConsumerMinSessionTimeout, 45 * time.Second},
		{"group.consumer.max.session.timeout.ms", got.ConsumerMaxSessionTimeout, 60 * time.Second},
		{"group.consumer.min.heartbeat.interval.ms", got.ConsumerMinHeartbeatInterval, 5 * time.Second},
		{"group.consumer.max.heartbeat.interval.ms", got.ConsumerMaxHeartbeatInterval, 15 * time.Second},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestFromPropertiesKeys sets every known key to valid values and checks the
// typed field, then to invalid values and checks the error names the key.
func TestFromPropertiesKeys(t *testing.T) {
	type valid struct {
		value string
		want  any
	}
	cases := []struct {
		key   string
		field func(Broker) any
		good  []valid
		bad   []string
	}{
		{"node.id", func(b Broker) any { return b.NodeID },
			[]valid{{"0", int32(0)}, {"7", int32(7)}, {"2147483647", int32(2147483647)}},
			[]string{"-1", "2147483648", "x", "1.5", ""}},
		{"broker.id", func(b Broker) any { return b.NodeID },
			[]valid{{"12", int32(12)}}, []string{"-3", "abc"}},
		{"listeners", func(b Broker) any { return b.Listeners },
			[]valid{
				{"PLAINTEXT://localhost:9093", []Listener{{"PLAINTEXT", "localhost", 9093}}},
				{" PLAINTEXT://[::1]:19092 ", []Listener{{"PLAINTEXT", "::1", 19092}}},
			},
			[]string{"localhost:9092", "SSL://localhost:9093", "PLAINTEXT://localhost", "PLAINTEXT://localhost:70000", "PLAINTEXT://localhost:port"}},
		{"advertised.listeners", func(b Broker) any { return b.AdvertisedListeners },
			[]valid{{"PLAINTEXT://broker.example:9092", []Listener{{"PLAINTEXT", "broker.example", 9092}}}},
			[]string{"SASL_SSL://h:1", "PLAINTEXT:/h:1"}},
		{"log.dirs", func(b Broker) any { return b.LogDirs },
			[]valid{{"/var/samsa", []string{"/var/samsa"}}, {" /d , ", []string{"/d"}}},
			[]string{"", " , ", "/a,/b"}},
		{"log.dir", func(b Broker) any { return b.LogDirs },
			[]valid{{"/x", []string{"/x"}}}, []string{""}},
		{"cluster.id", func(b Broker) any { return b.ClusterID },
			[]valid{{"MkU3OEVBNTcwNTJENDM2Qg", "MkU3OEVBNTcwNTJENDM2Qg"}}, nil},
		{"num.partitions", func(b Broker) any { return b.NumPartitions },
			[]valid{{"1", int32(1)}, {"12", int32(12)}, {"1048576", int32(1048576)}},
			[]string{"0", "-1", "1048577", "ten"}},
		{"default.replication.factor", func(b Broker) any { return b.DefaultReplicationFactor },
			[]valid{{"3", int16(3)}, {"32767", int16(32767)}},
			[]string{"0", "32768", "x"}},
		{"auto.create.topics.enable", func(b Broker) any { return b.AutoCreateTopics },
			[]valid{{"false", false}, {"true", true}, {"0", false}},
			[]string{"yes", "nope", ""}},
		{"log.segment.bytes", func(b Broker) any { return b.LogSegmentBytes },
			[]valid{{"14", int64(14)}, {"1048576", int64(1048576)}, {"2147483647", int64(2147483647)}},
			[]string{"13", "0", "2147483648", "1GB"}},
		{"log.roll.ms", func(b Broker) any { return b.LogRollMs },
			[]valid{{"1", int64(1)}, {"60000", int64(60000)}, {"9223372036854775807", int64(9223372036854775807)}},
			[]string{"0", "-5", "9223372036854775808", "1h"}},
		{"log.roll.hours", func(b Broker) any { return b.LogRollMs },
			[]valid{{"1", int64(3600000)}, {"24", int64(86400000)}, {"2147483647", int64(2147483647) * 3600000}},
			[]string{"0", "2147483648", "1.5"}},
		{"log.index.interval.bytes", func(b Broker) any { return b.LogIndexIntervalBytes },
			[]valid{{"0", 0}, {"100", 100}},
			[]string{"-1", "2147483648", "many"}},
		{"log.index.size.max.bytes", func(b Broker) any { return b.LogIndexSizeMaxBytes },
			[]valid{{"4", 4}, {"1048576", 1048576}},
			[]string{"3", "0", "x"}},
		{"log.flush.interval.messages", func(b Broker) any { return b.LogFlushIntervalMsgs },
			[]valid{{"1", int64(1)}, {"9223372036854775807", int64(9223372036854775807)}},
			[]string{"0", "-1", "x"}},
		{"log.flush.interval.ms", func(b Broker) any { return b.LogFlushIntervalMs },
			[]valid{{"0", int64(0)}, {"1000", int64(1000)}},
			[]string{"-1", "1s"}},
		{"log.flush.offset.checkpoint.interval.ms", func(b Broker) any { return b.LogFlushOffsetCheckpointInterval },
			[]valid{{"0", time.Duration(0)}, {"1000", time.Second}, {"2147483647", 2147483647 * time.Millisecond}},
			[]string{"-1", "2147483648", "60s"}},
		{"log.message.timestamp.type", func(b Broker) any { return b.LogMessageTimestampLAT },
			[]valid{{"LogAppendTime", true}, {"CreateTime", false}},
			[]string{"logappendtime", "create", ""}},
		{"message.max.bytes", func(b Broker) any { return b.MessageMaxBytes },
			[]valid{{"0", int32(0)}, {"2000", int32(2000)}},
			[]string{"-1", "2147483648"}},
		{"socket.request.max.bytes", func(b Broker) any { return b.SocketRequestMaxBytes },
			[]valid{{"1", int32(1)}, {"1024", int32(1024)}},
			[]string{"0", "-100", "big"}},
		{"connections.max.idle.ms", func(b Broker) any { return b.ConnectionsMaxIdle },
			[]valid{{"1500", 1500 * time.Millisecond}, {"1", time.Millisecond}},
			[]string{"0", "-1", "10m"}},
		{"queued.max.requests", func(b Broker) any { return b.QueuedMaxRequests },
			[]valid{{"1", 1}, {"10", 10}, {"1048576", 1048576}},
			[]string{"0", "1048577", "x"}},
		{"fetch.max.bytes", func(b Broker) any { return b.FetchMaxBytes },
			[]valid{{"1024", int32(1024)}, {"52428800", int32(52428800)}},
			[]string{"1023", "0", "x"}},
		{"controlled.shutdown.timeout.ms", func(b Broker) any { return b.ShutdownTimeout },
			[]valid{{"0", time.Duration(0)}, {"2500", 2500 * time.Millisecond}},
			[]string{"-5", "x", "9223372036854775807"}}, // beyond a time.Duration: it went negative
		{"samsa.shutdown.timeout.ms", func(b Broker) any { return b.ShutdownTimeout },
			[]valid{{"100", 100 * time.Millisecond}},
			[]string{"-1"}},
		{"samsa.log.writeback.bytes", func(b Broker) any { return b.LogWritebackBytes },
			[]valid{{"0", int64(0)}, {"1048576", int64(1 << 20)}},
			[]string{"-1", "x"}},
		{"samsa.log.preallocate.bytes", func(b Broker) any { return b.LogPreallocateBytes },
			[]valid{{"0", int64(0)}, {"8388608", int64(8 << 20)}},
			[]string{"-1", "4294967296", "x"}},
		{"offsets.topic.num.partitions", func(b Broker) any { return b.OffsetsTopicPartitions },
			[]valid{{"1", int32(1)}, {"65536", int32(65536)}},
			[]string{"0", "65537", "x"}},
		{"group.consumer.min.session.timeout.ms", func(b Broker) any { return b.ConsumerMinSessionTimeout },
			[]valid{{"1", time.Millisecond}, {"30000", 30 * time.Second}, {"2147483647", 2147483647 * time.Millisecond}},
			[]string{"0", "-1", "2147483648", "45s"}},
		{"group.consumer.max.session.timeout.ms", func(b Broker) any { return b.ConsumerMaxSessionTimeout },
			[]valid{{"90000", 90 * time.Second}},
			[]string{"0", "x"}},
		{"group.consumer.min.heartbeat.interval.ms", func(b Broker) any { return b.ConsumerMinHeartbeatInterval },
			[]valid{{"100", 100 * time.Millisecond}},
			[]string{"0", "1.5"}},
		{"group.consumer.max.heartbeat.interval.ms", func(b Broker) any { return b.ConsumerMaxHeartbeatInterval },
			[]valid{{"20000", 20 * time.Second}},
			[]string{"-5", "2147483648"}},
	}
	for _, tc := range cases {
		for _, g := range tc.good {
			t.Run(tc.key+"="+g.value, func(t *testing.T) {
				props := map[string]string{tc.key: g.value}
				b, ignored, err := FromProperties(props)
				if err != nil {
					t.Fatalf("FromProperties: %v", err)
				}
				if len(ignored) != 0 {
					t.Fatalf("known key reported as ignored: %q", ignored)
				}
				if got := tc.field(b); !reflect.DeepEqual(got, g.want) {
					t.Fatalf("%s=%q gives %#v, want %#v", tc.key, g.value, got, g.want)
				}
				if !reflect.DeepEqual(b.Props, props) {
					t.Fatalf("Props = %q, want %q", b.Props, props)
				}
			})
		}
		for _, v := range tc.bad {
			t.Run(tc.key+"=bad:"+v, func(t *testing.T) {
				_, _, err := FromProperties(map[string]string{tc.key: v})
				if err == nil {
					t.Fatalf("%s=%q accepted", tc.key, v)
				}
				msg := err.Error()
				if !strings.Contains(msg, "configuration "+tc.key) || !strings.Contains(msg, "invalid value") {
					t.Fatalf("error %q does not name the key %s", msg, tc.key)
				}
			})
		}
	}
}

func TestFromPropertiesRollMsWinsOverHours(t *testing.T) {
	cases := []struct {
		props map[string]string
		want  int64
	}{
		{map[string]string{"log.roll.hours": "2"}, 2 * 3600 * 1000},
		{map[string]string{"log.roll.ms": "5000"}, 5000},
		{map[string]string{"log.roll.hours": "1", "log.roll.ms": "5000"}, 5000},
		{map[string]string{"log.roll.ms": "5000", "log.roll.hours": "100"}, 5000},
	}
	for _, tc := range cases {
		// Repeat: map iteration order must not matter.
		for range 20 {
			b, _, err := FromProperties(tc.props)
			if err != nil {
				t.Fatal(err)
			}
			if b.LogRollMs != tc.want {
				t.Fatalf("%v: LogRollMs = %d, want %d", tc.props, b.LogRollMs, tc.want)
			}
		}
	}
}

// TestFromPropertiesHoursAndMinutes: the properties counted in hours or
// minutes become milliseconds, -1 stays "no limit", and the .ms form wins.
func TestFromPropertiesHoursAndMinutes(t *testing.T) {
	cases := []struct {
		props map[string]string
		get   func(Broker) int64
		want  int64
	}{
		{map[string]string{"log.retention.hours": "3"}, func(b Broker) int64 { return b.LogRetentionMs }, 3 * 3600 * 1000},
		{map[string]string{"log.retention.minutes": "7"}, func(b Broker) int64 { return b.LogRetentionMs }, 7 * 60 * 1000},
		{map[string]string{"log.retention.hours": "-1"}, func(b Broker) int64 { return b.LogRetentionMs }, -1},
		{map[string]string{"log.retention.minutes": "-1"}, func(b Broker) int64 { return b.LogRetentionMs }, -1},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2", "log.retention.ms": "5"}, func(b Broker) int64 { return b.LogRetentionMs }, 5},
		{map[string]string{"log.roll.jitter.hours": "2"}, func(b Broker) int64 { return b.LogRollJitterMs }, 2 * 3600 * 1000},
		{map[string]string{"log.roll.jitter.hours": "2", "log.roll.jitter.ms": "9"}, func(b Broker) int64 { return b.LogRollJitterMs }, 9},
	}
	for _, tc := range cases {
		b, _, err := FromProperties(tc.props)
		if err != nil {
			t.Fatalf("%v: %v", tc.props, err)
		}
		if got := tc.get(b); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.props, got, tc.want)
		}
	}
	for _, bad := range []map[string]string{{"log.retention.hours": "-2"}, {"log.roll.hours": "0"}, {"log.roll.jitter.hours": "-1"}} {
		if _, _, err := FromProperties(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestParseListeners(t *testing.T) {
	cases := []struct {
		in      string
		want    []Listener
		wantErr string
	}{
		{"PLAINTEXT://localhost:9092", []Listener{{"PLAINTEXT", "localhost", 9092}}, ""},
		{"PLAINTEXT://0.0.0.0:0", []Listener{{"PLAINTEXT", "0.0.0.0", 0}}, ""},
		{"PLAINTEXT://:9092", []Listener{{"PLAINTEXT", "", 9092}}, ""},
		{"PLAINTEXT://[::1]:65535", []Listener{{"PLAINTEXT", "::1", 65535}}, ""},
		{"PLAINTEXT://a:1, PLAINTEXT://b:2", []Listener{{"PLAINTEXT", "a", 1}, {"PLAINTEXT", "b", 2}}, ""},
		{"", nil, ""},
		{" , ", nil, ""},
		{"localhost:9092", nil, "want NAME://host:port"},
		{"SSL://localhost:9093", nil, "only PLAINTEXT"},
		{"plaintext://localhost:9093", nil, "only PLAINTEXT"},
		{"PLAINTEXT://localhost", nil, "missing port"},
		{"PLAINTEXT://localhost:65536", nil, "bad port"},
		{"PLAINTEXT://localhost:-1", nil, "bad port"},
		{"PLAINTEXT://localhost:http", nil, "bad port"},
		{"PLAINTEXT://::1:9092", nil, "too many colons"},
		{"PLAINTEXT://a:1,SSL://b:2", nil, "SSL://b:2"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseListeners(tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if a := (Listener{Name: "PLAINTEXT", Host: "::1", Port: 9092}).Addr(); a != "[::1]:9092" {
		t.Fatalf("Addr() = %q", a)
	}
	if a := (Listener{Name: "PLAINTEXT", Host: "h", Port: 1}).Addr(); a != "h:1" {
		t.Fatalf("Addr() = %q", a)
	}
}

func TestFromPropertiesListenerRules(t *testing.T) {
	cases := []struct {
		name       string
		props      map[string]string
		listen     string // want Listeners[0].Addr()
		advertised string // want AdvertisedListeners[0].Addr()
		wantErr    string
	}{
		{"advertised defaults to listeners",
			map[string]string{"listeners": "PLAINTEXT://10.0.0.5:9092"}, "10.0.0.5:9092", "10.0.0.5:9092", ""},
		{"wildcard listener with advertised host",
			map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092", "advertised.listeners": "PLAINTEXT://broker1:9092"},
			"0.0.0.0:9092", "broker1:9092", ""},
		{"wildcard listener without advertised",
			map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092"}, "", "", "advertised.listeners: a routable host"},
		{"empty host without advertised",
			map[string]string{"listeners": "PLAINTEXT://:9092"}, "", "", "advertised.listeners: a routable host"},
		{"advertised wildcard",
			map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "", "", "routable host"},
		{"two listeners",
			map[string]string{"listeners": "PLAINTEXT://a:1,PLAINTEXT://b:2"}, "", "", "exactly one listener"},
		{"two advertised listeners",
			map[string]string{"advertised.listeners": "PLAINTEXT://a:1,PLAINTEXT://b:2"}, "", "", "exactly one listener"},
		{"no listeners",
			map[string]string{"listeners": " "}, "", "", "exactly one listener"},
		{"bad listener names the key",
			map[string]string{"listeners": "SSL://a:1"}, "", "", "configuration listeners"},
		{"bad advertised listener names the key",
			map[string]string{"advertised.listeners": "a:1"}, "", "", "configuration advertised.listeners"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _, err := FromProperties(tc.props)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("accepted: %+v / %+v", b.Listeners, b.AdvertisedListeners)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Listeners[0].Addr(); got != tc.listen {
				t.Errorf("listener %s, want %s", got, tc.listen)
			}
			if got := b.AdvertisedListeners[0].Addr(); got != tc.advertised {
				t.Errorf("advertised %s, want %s", got, tc.advertised)
			}
		})
	}
}

func TestFromPropertiesIgnoredKeys(t *testing.T) {
	props := map[string]string{
		"zookeeper.connect":              "localhost:2181",
		"num.partitions":                 "2",
		"a.custom.key":                   "1",
		"log.retention.check.interval":   "300000",
		"controlled.shutdown.timeout.ms": "10",
	}
	b, ignored, err := FromProperties(props)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.custom.key", "log.retention.check.interval", "zookeeper.connect"}
	if !reflect.DeepEqual(ignored, want) {
		t.Fatalf("ignored = %q, want %q (sorted)", ignored, want)
	}
	if b.NumPartitions != 2 || b.ShutdownTimeout != 10*time.Millisecond {
		t.Fatalf("known keys not applied: %+v", b)
	}
	if b.Props["zookeeper.connect"] != "localhost:2181" {
		t.Fatalf("Props lost an ignored key: %q", b.Props)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	file := writeFile(t, `# samsa test
node.id=3
num.partitions=2
log.dirs=/from/file
listeners=PLAINTEXT://127.0.0.1:19092
some.unknown=1
`)
	b, ignored, err := Load(file, []string{"num.partitions=8", " log.flush.interval.ms = 250 ", "other.unknown=x", "log.dirs=/from/flag"})
	if err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 3 {
		t.Errorf("node.id from file: %d", b.NodeID)
	}
	if b.NumPartitions != 8 {
		t.Errorf("override did not win: num.partitions = %d", b.NumPartitions)
	}
	if b.LogFlushIntervalMs != 250 {
		t.Errorf("override with spaces: log.flush.interval.ms = %d", b.LogFlushIntervalMs)
	}
	if !reflect.DeepEqual(b.LogDirs, []string{"/from/flag"}) {
		t.Errorf("log.dirs = %q", b.LogDirs)
	}
	if got := b.Listeners[0].Addr(); got != "127.0.0.1:19092" {
		t.Errorf("listener %s", got)
	}
	if !reflect.DeepEqual(ignored, []string{"other.unknown", "some.unknown"}) {
		t.Errorf("ignored = %q", ignored)
	}
	wantProps := map[string]string{
		"node.id": "3", "num.partitions": "8", "log.dirs": "/from/flag", "log.flush.interval.ms": "250",
		"listeners": "PLAINTEXT://127.0.0.1:19092", "some.unknown": "1", "other.unknown": "x",
	}
	if !reflect.DeepEqual(b.Props, wantProps) {
		t.Errorf("Props = %q, want %q", b.Props, wantProps)
	}
}

func TestLoadNoFile(t *testing.T) {
	b, ignored, err := Load("", []string{"node.id=9", "a=b=c"})
	if err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 9 || b.NumPartitions != 1 {
		t.Fatalf("got node.id %d num.partitions %d", b.NodeID, b.NumPartitions)
	}
	if b.Props["a"] != "b=c" || !reflect.DeepEqual(ignored, []string{"a"}) {
		t.Fatalf("override value must keep everything after the first '=': %q, ignored %q", b.Props, ignored)
	}
}

func TestLoadErrors(t *testing.T) {
	good := writeFile(t, "num.partitions=2\n")
	badLine := writeFile(t, "num.partitions=2\nthis line has no separator\n")
	badValue := writeFile(t, "num.partitions=zero\n")
	missing := filepath.Join(t.TempDir(), "does-not-exist.properties")
	cases := []struct {
		name      string
		file      string
		overrides []string
		want      string
	}{
		{"missing file", missing, nil, "config file"},
		{"line without separator", badLine, nil, badLine},
		{"bad value in file", badValue, nil, "configuration num.partitions"},
		{"override without =", good, []string{"num.partitions"}, `override "num.partitions"`},
		{"bad override value", good, []string{"queued.max.requests=0"}, "configuration queued.max.requests"},
		{"override breaks the listener rule", good, []string{"listeners=PLAINTEXT://0.0.0.0:1"}, "routable host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(tc.file, tc.overrides)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	if _, _, err := Load(missing, nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file error %v does not wrap os.ErrNotExist", err)
	}
}

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{
		"", "a=b", "a: b", "# c\n! d\nk = v\n", "a=b\\\n  c", "a=b\\\\\nc=d", "noseparator",
		"listeners=PLAINTEXT://127.0.0.1:9092\nlog.roll.hours=1\nlog.roll.ms=10",
		"\\\n\\\n=", "=\n:", "a\r\nb=c\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		props, err := ParseProperties(strings.NewReader(in))
		if err != nil {
			if props != nil {
				t.Fatalf("error %v with non-nil result", err)
			}
			return
		}
		for k, v := range props {
			if strings.ContainsAny(k, "=:") {
				t.Fatalf("key %q contains a separator", k)
			}
			if strings.TrimFunc(k, unicode.IsSpace) != k || strings.TrimFunc(v, unicode.IsSpace) != v {
				t.Fatalf("untrimmed key or value %q=%q", k, v)
			}
		}
		// Whatever parses must be safe to turn into a configuration.
		_, _, _ = FromProperties(props)
	})
}

// A file whose last line ends in a continuation backslash (easily left by an
// edit) must not lose that property: java.util.Properties keeps the line
// without the backslash, and so must we.
func TestParsePropertiesContinuationAtEOF(t *testing.T) {
	for _, in := range []string{"num.partitions=4\\", "num.partitions=4\\\n", "a=1\nnum.partitions=\\\n4\\"} {
		got, err := ParseProperties(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if v, ok := got["num.partitions"]; v != "4" {
			t.Errorf("%q: num.partitions = %q (present: %v), want \"4\": the pending continuation at EOF was dropped",
				in, v, ok)
		}
	}
}

// cleanup.policy is described as Kafka describes a list config: the items
// in the order given, joined by commas without spaces.
func TestParseCleanupPolicyKeepsOrder(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"delete", "delete"},
		{"compact", "compact"},
		{"compact,delete", "compact,delete"},
		{"delete,compact", "delete,compact"},
		{" delete , compact ", "delete,compact"},
		{"compact,compact", "compact"},
	} {
		got, err := ParseCleanupPolicy(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCleanupPolicy(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", " , ", "forever", "delete,shred"} {
		if got, err := ParseCleanupPolicy(bad); err == nil {
			t.Errorf("ParseCleanupPolicy(%q) = %q, want an error", bad, got)
		}
	}
	for _, c := range []struct {
		list, policy string
		want         bool
	}{{"delete,compact", "compact", true}, {"delete,compact", "delete", true}, {"compact", "delete", false}, {"delete", "compact", false}} {
		if got := CleanupPolicyHas(c.list, c.policy); got != c.want {
			t.Errorf("CleanupPolicyHas(%q, %q) = %v", c.list, c.policy, got)
		}
	}
}
