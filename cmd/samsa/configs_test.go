package main

// End-to-end tests of `samsa configs` and `samsa logdirs` against the samsa
// broker started in-process, asserting on what the commands print.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runAdmin runs `samsa configs ...`, `samsa logdirs ...` or any other
// command against addr.
func runAdmin(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	return runCLI(t, addr, "", args...)
}

// mustRunAdmin is runAdmin for runs that must succeed.
func mustRunAdmin(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	r := runAdmin(t, addr, args...)
	if r.err != nil {
		t.Fatalf("samsa %s: %v\nstdout:\n%s", strings.Join(args, " "), r.err, r.stdout)
	}
	return r
}

// runAdminErr runs a command that must fail with an error containing want,
// and print nothing.
func runAdminErr(t *testing.T, addr, want string, args ...string) {
	t.Helper()
	r := runAdmin(t, addr, args...)
	if r.err == nil || !strings.Contains(r.err.Error(), want) {
		t.Errorf("samsa %s: err = %v, want one containing %q", strings.Join(args, " "), r.err, want)
	}
	if r.stdout != "" {
		t.Errorf("samsa %s: printed %q on failure", strings.Join(args, " "), r.stdout)
	}
}

// describeTopicConfigs returns `configs describe --topic` output as cells.
func describeTopicConfigs(t *testing.T, addr, topic string, flags ...string) string {
	t.Helper()
	return cells(mustRunAdmin(t, addr, append([]string{"configs", "describe", "--topic", topic}, flags...)...).stdout)
}

// tableRow returns the row of a cells table whose first cell is name.
func tableRow(table, name string) string {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, name+" | ") {
			return line
		}
	}
	return ""
}

func TestConfigsDescribeTopic(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "orders", "--config", "retention.ms=60000")
	mustRunCLI(t, addr, "", "topics", "create", "plain")

	// Without --all only what was set on the topic shows.
	if got, want := describeTopicConfigs(t, addr, "orders"), ""+
		"NAME | VALUE | SOURCE\n"+
		"retention.ms | 60000 | DYNAMIC_TOPIC_CONFIG\n"; got != want {
		t.Errorf("describe:\n%s\nwant:\n%s", got, want)
	}
	if got, want := describeTopicConfigs(t, addr, "plain"), "NAME | VALUE | SOURCE\n"; got != want {
		t.Errorf("describe of a topic without overrides:\n%s\nwant:\n%s", got, want)
	}

	// --all adds the defaults, sorted by name.
	all := describeTopicConfigs(t, addr, "orders", "--all")
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	if lines[0] != "NAME | VALUE | SOURCE" || len(lines) < 15 {
		t.Fatalf("describe --all:\n%s", all)
	}
	var names []string
	for _, l := range lines[1:] {
		f := strings.Split(l, " | ")
		if len(f) != 3 {
			t.Fatalf("describe --all row %q: want 3 cells", l)
		}
		names = append(names, f[0])
		want := "DEFAULT_CONFIG"
		if f[0] == "retention.ms" {
			want = "DYNAMIC_TOPIC_CONFIG"
		}
		if f[2] != want {
			t.Errorf("describe --all row %q: source %s, want %s", l, f[2], want)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("describe --all rows are not sorted by name: %v", names)
	}
	for _, want := range []string{
		"cleanup.policy | delete | DEFAULT_CONFIG",
		"retention.ms | 60000 | DYNAMIC_TOPIC_CONFIG",
		"segment.bytes | 1073741824 | DEFAULT_CONFIG",
		"max.message.bytes | 1048588 | DEFAULT_CONFIG",
	} {
		if got := tableRow(all, strings.SplitN(want, " | ", 2)[0]); got != want {
			t.Errorf("describe --all row = %q, want %q", got, want)
		}
	}

	// --synonyms: the topic's value, then the broker's it falls back to
	// (none for retention.ms: log.retention.ms has no default in Kafka).
	syn := describeTopicConfigs(t, addr, "orders", "--synonyms")
	if want := "" +
		"NAME | VALUE | SOURCE | SYNONYMS\n" +
		"retention.ms | 60000 | DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:retention.ms=60000\n"; syn != want {
		t.Errorf("describe --synonyms:\n%s\nwant:\n%s", syn, want)
	}
	syn = describeTopicConfigs(t, addr, "orders", "--synonyms", "--all")
	if got, want := tableRow(syn, "cleanup.policy"), "cleanup.policy | delete | DEFAULT_CONFIG | DEFAULT_CONFIG:log.cleanup.policy=delete"; got != want {
		t.Errorf("describe --synonyms --all row = %q, want %q", got, want)
	}

	// --docs: the broker's documentation as the last column.
	docs := describeTopicConfigs(t, addr, "orders", "--docs")
	row := regexp.MustCompile(`^retention\.ms \| 60000 \| DYNAMIC_TOPIC_CONFIG \| [A-Z].*\S$`)
	if !strings.HasPrefix(docs, "NAME | VALUE | SOURCE | DOC\n") || !row.MatchString(tableRow(docs, "retention.ms")) {
		t.Errorf("describe --docs:\n%s", docs)
	}

	runAdminErr(t, addr, `describe configs of topic "missing": UNKNOWN_TOPIC_OR_PARTITION`,
		"configs", "describe", "--topic", "missing")
	runAdminErr(t, addr, "name what to configure: --topic NAME, --broker [ID] or --group NAME", "configs", "describe")
	runAdminErr(t, addr, "only one of --topic, --broker and --group can be given", "configs", "describe", "--topic", "orders", "--broker")
	runAdminErr(t, addr, "only one of --topic, --broker and --group can be given", "configs", "describe", "--topic", "orders", "--group", "g")
	runAdminErr(t, addr, `unexpected argument "orders"`, "configs", "describe", "orders")
}

func TestConfigsAlterTopic(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "orders")

	alter := func(args ...string) {
		t.Helper()
		r := mustRunAdmin(t, addr, append([]string{"configs", "alter", "--topic", "orders"}, args...)...)
		if want := "Completed updating config for topic orders.\n"; r.stdout != want {
			t.Errorf("alter %v printed %q, want %q", args, r.stdout, want)
		}
	}
	check := func(step, want string) {
		t.Helper()
		if got := describeTopicConfigs(t, addr, "orders"); got != "NAME | VALUE | SOURCE\n"+want {
			t.Fatalf("after %s:\n%s\nwant:\n%s", step, got, "NAME | VALUE | SOURCE\n"+want)
		}
	}

	// A list value keeps its commas; --set may be repeated.
	alter("--set", "retention.ms=5000,cleanup.policy=compact,delete", "--set", "max.message.bytes=2000")
	check("set", ""+
		"cleanup.policy | compact,delete | DYNAMIC_TOPIC_CONFIG\n"+
		"max.message.bytes | 2000 | DYNAMIC_TOPIC_CONFIG\n"+
		"retention.ms | 5000 | DYNAMIC_TOPIC_CONFIG\n")

	// Deleting a config returns it to the broker's value, which --all shows.
	alter("--subtract", "cleanup.policy=delete", "--delete", "retention.ms")
	check("subtract and delete", ""+
		"cleanup.policy | compact | DYNAMIC_TOPIC_CONFIG\n"+
		"max.message.bytes | 2000 | DYNAMIC_TOPIC_CONFIG\n")
	if got, want := tableRow(describeTopicConfigs(t, addr, "orders", "--all"), "retention.ms"),
		"retention.ms | 604800000 | DEFAULT_CONFIG"; got != want {
		t.Errorf("deleted retention.ms: %q, want %q", got, want)
	}

	alter("--append", "cleanup.policy=delete", "--set", "segment.bytes=[1048576]")
	check("append", ""+
		"cleanup.policy | compact,delete | DYNAMIC_TOPIC_CONFIG\n"+
		"max.message.bytes | 2000 | DYNAMIC_TOPIC_CONFIG\n"+
		"segment.bytes | 1048576 | DYNAMIC_TOPIC_CONFIG\n")
	const afterAppend = "" +
		"cleanup.policy | compact,delete | DYNAMIC_TOPIC_CONFIG\n" +
		"max.message.bytes | 2000 | DYNAMIC_TOPIC_CONFIG\n" +
		"segment.bytes | 1048576 | DYNAMIC_TOPIC_CONFIG\n"

	// --validate-only checks with the broker and changes nothing.
	r := mustRunAdmin(t, addr, "configs", "alter", "--topic", "orders", "--validate-only",
		"--set", "segment.bytes=2000000", "--delete", "max.message.bytes")
	if want := "Validated config changes for topic orders; nothing was changed (--validate-only).\n"; r.stdout != want {
		t.Errorf("validate-only printed %q, want %q", r.stdout, want)
	}
	check("validate-only", afterAppend)
	runAdminErr(t, addr, `alter configs of topic "orders": INVALID_CONFIG: invalid value "huge" for config segment.bytes`,
		"configs", "alter", "--topic", "orders", "--validate-only", "--set", "segment.bytes=huge")

	// Refused changes name the key, and none of the request is applied.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "retention.ms=1000,segment.bytes=abc"},
			`alter configs of topic "orders": INVALID_CONFIG: invalid value "abc" for config segment.bytes`},
		{[]string{"--set", "retention.ms=-5"},
			`alter configs of topic "orders": INVALID_CONFIG: invalid value "-5" for config retention.ms`},
		{[]string{"--set", "cleanup.policy=shred"},
			`alter configs of topic "orders": INVALID_CONFIG: invalid value "shred" for config cleanup.policy`},
		{[]string{"--set", "no.such.config=1"},
			`alter configs of topic "orders": INVALID_CONFIG: topic config no.such.config is not supported`},
		{[]string{"--append", "retention.ms=1"},
			`alter configs of topic "orders": INVALID_CONFIG: config retention.ms is not a list`},
		{[]string{"--subtract", "cleanup.policy=compact,delete"},
			`alter configs of topic "orders": INVALID_CONFIG: config cleanup.policy cannot be empty`},
	} {
		runAdminErr(t, addr, tc.want, append([]string{"configs", "alter", "--topic", "orders"}, tc.args...)...)
	}
	check("refused changes", afterAppend)

	runAdminErr(t, addr, `alter configs of topic "missing": UNKNOWN_TOPIC_OR_PARTITION: topic "missing" does not exist`,
		"configs", "alter", "--topic", "missing", "--set", "retention.ms=1")

	// Mistakes caught before asking the broker.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to change"},
		{[]string{"--set", "retention.ms"}, `--set "retention.ms": want key=value`},
		{[]string{"--set", "=5"}, `--set "=5": want key=value, got an empty key`},
		{[]string{"--set", "a=[x"}, `--set "a=[x": '[' without ']'`},
		{[]string{"--delete", "a,,b"}, `--delete "a,,b": empty config name`},
		{[]string{"--set", "retention.ms=1", "--delete", "retention.ms"},
			"config retention.ms is given twice (--set and --delete)"},
	} {
		runAdminErr(t, addr, tc.want, append([]string{"configs", "alter", "--topic", "orders"}, tc.args...)...)
	}

	alter("--delete", "cleanup.policy,max.message.bytes", "--delete", "segment.bytes")
	check("delete all", "")
}

func TestConfigsBroker(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)

	// The test broker sets listeners, log.dirs and auto.create.topics.enable.
	r := mustRunAdmin(t, addr, "configs", "describe", "--broker")
	want := regexp.MustCompile(`^NAME \| VALUE \| SOURCE\n` +
		`auto\.create\.topics\.enable \| false \| STATIC_BROKER_CONFIG\n` +
		`listeners \| PLAINTEXT://` + regexp.QuoteMeta(addr) + ` \| STATIC_BROKER_CONFIG\n` +
		`log\.dirs \| /\S+ \| STATIC_BROKER_CONFIG\n$`)
	if !want.MatchString(cells(r.stdout)) {
		t.Errorf("describe --broker:\n%s\nwant match for %v", cells(r.stdout), want)
	}
	// Naming the broker, either way, is the same.
	for _, args := range [][]string{{"--broker", "1"}, {"--broker=1"}} {
		if r2 := mustRunAdmin(t, addr, append([]string{"configs", "describe"}, args...)...); r2.stdout != r.stdout {
			t.Errorf("describe %v:\n%s\nwant:\n%s", args, r2.stdout, r.stdout)
		}
	}

	all := cells(mustRunAdmin(t, addr, "configs", "describe", "--broker", "--all").stdout)
	for _, want := range []string{
		"num.partitions | 1 | DEFAULT_CONFIG",
		"auto.create.topics.enable | false | STATIC_BROKER_CONFIG",
		"log.retention.ms | 604800000 | DEFAULT_CONFIG",
	} {
		if got := tableRow(all, strings.SplitN(want, " | ", 2)[0]); got != want {
			t.Errorf("describe --broker --all row = %q, want %q", got, want)
		}
	}

	runAdminErr(t, addr, "describe configs of broker 7: ", "configs", "describe", "--broker", "7")
	runAdminErr(t, addr, `--broker "x": want a broker node ID`, "configs", "describe", "--broker", "x")

	// Properties that are not topic defaults cannot change at run time:
	// the refusal is the broker's.
	const refused = "alter configs of broker 1: INVALID_REQUEST: broker config num.partitions cannot be changed at run time; set it in the properties file"
	runAdminErr(t, addr, refused, "configs", "alter", "--broker", "--set", "num.partitions=3")
	// Topic defaults can, per broker; validate-only changes nothing.
	mustRunAdmin(t, addr, "configs", "alter", "--broker", "1", "--validate-only", "--set", "log.retention.ms=1000")
	if got := tableRow(cells(mustRunAdmin(t, addr, "configs", "describe", "--broker", "--all").stdout), "log.retention.ms"); got != "log.retention.ms | 604800000 | DEFAULT_CONFIG" {
		t.Errorf("after validate-only alter: %q", got)
	}
	mustRunAdmin(t, addr, "configs", "alter", "--broker", "1", "--set", "log.retention.ms=1000")
	if got := tableRow(cells(mustRunAdmin(t, addr, "configs", "describe", "--broker", "--all").stdout), "log.retention.ms"); got != "log.retention.ms | 1000 | DYNAMIC_BROKER_CONFIG" {
		t.Errorf("after alter: %q", got)
	}
}

// A consumer group's configs (KIP-848) can be set before the group exists,
// described with their source, refused with the broker's reason, and
// deleted.
func TestConfigsGroup(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)

	all := cells(mustRunAdmin(t, addr, "configs", "describe", "--group", "billing", "--all").stdout)
	if want := "NAME | VALUE | SOURCE\n" +
		"consumer.heartbeat.interval.ms | 5000 | DEFAULT_CONFIG\n" +
		"consumer.session.timeout.ms | 45000 | DEFAULT_CONFIG\n"; all != want {
		t.Errorf("describe --group --all:\n%s\nwant:\n%s", all, want)
	}
	r := mustRunAdmin(t, addr, "configs", "alter", "--group", "billing", "--set", "consumer.session.timeout.ms=50000")
	if want := "Completed updating config for group billing.\n"; r.stdout != want {
		t.Errorf("alter --group printed %q, want %q", r.stdout, want)
	}
	if got, want := cells(mustRunAdmin(t, addr, "configs", "describe", "--group", "billing", "--synonyms").stdout),
		"NAME | VALUE | SOURCE | SYNONYMS\n"+
			"consumer.session.timeout.ms | 50000 | GROUP_CONFIG | GROUP_CONFIG:consumer.session.timeout.ms=50000, DEFAULT_CONFIG:group.consumer.session.timeout.ms=45000\n"; got != want {
		t.Errorf("describe --group after alter:\n%s\nwant:\n%s", got, want)
	}
	runAdminErr(t, addr, `alter configs of group "billing": INVALID_CONFIG: consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms`,
		"configs", "alter", "--group", "billing", "--set", "consumer.heartbeat.interval.ms=20000")
	runAdminErr(t, addr, `INVALID_CONFIG: Unknown group config name: share.session.timeout.ms`,
		"configs", "alter", "--group", "billing", "--set", "share.session.timeout.ms=50000")
	mustRunAdmin(t, addr, "configs", "alter", "--group", "billing", "--validate-only", "--delete", "consumer.session.timeout.ms")
	if got := tableRow(cells(mustRunAdmin(t, addr, "configs", "describe", "--group", "billing").stdout), "consumer.session.timeout.ms"); got != "consumer.session.timeout.ms | 50000 | GROUP_CONFIG" {
		t.Errorf("after validate-only delete: %q", got)
	}
	mustRunAdmin(t, addr, "configs", "alter", "--group", "billing", "--delete", "consumer.session.timeout.ms")
	if got := tableRow(cells(mustRunAdmin(t, addr, "configs", "describe", "--group", "billing", "--all").stdout), "consumer.session.timeout.ms"); got != "consumer.session.timeout.ms | 45000 | DEFAULT_CONFIG" {
		t.Errorf("after delete: %q", got)
	}
}

func TestLogDirsDescribe(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "data", "--partitions", "2")
	mustRunCLI(t, addr, "", "topics", "create", "empty")
	mustRunCLI(t, addr, "hello\n", "produce", "data", "--partition", "1")

	dir := strings.Split(tableRow(cells(mustRunAdmin(t, addr, "configs", "describe", "--broker").stdout), "log.dirs"), " | ")[1]
	// One uncompressed record of 5 bytes: a 61-byte batch header and a
	// 12-byte record. Check it against the file on disk too.
	st, err := os.Stat(filepath.Join(dir, "data-1", "00000000000000000000.log"))
	if err != nil || st.Size() != 73 {
		t.Fatalf("data-1 segment: %v, size %d; want 73 bytes", err, st.Size())
	}

	r := mustRunAdmin(t, addr, "logdirs", "describe")
	want := "" +
		"BROKER | DIR | TOPIC | PARTITION | SIZE\n" +
		"1 | " + dir + " | data | 0 | 0\n" +
		"1 | " + dir + " | data | 1 | 73\n" +
		"1 | " + dir + " | empty | 0 | 0\n"
	if got := cells(r.stdout); got != want {
		t.Errorf("logdirs describe:\n%s\nwant:\n%s", got, want)
	}
	r = mustRunAdmin(t, addr, "logdirs", "describe", "--topic", "empty,missing")
	if got, want := cells(r.stdout), "BROKER | DIR | TOPIC | PARTITION | SIZE\n1 | "+dir+" | empty | 0 | 0\n"; got != want {
		t.Errorf("logdirs describe --topic empty:\n%s\nwant:\n%s", got, want)
	}
	r = mustRunAdmin(t, addr, "logdirs", "describe", "--topic", "missing")
	if got, want := cells(r.stdout), "BROKER | DIR | TOPIC | PARTITION | SIZE\n1 | "+dir+" | - | - | -\n"; got != want {
		t.Errorf("logdirs describe --topic missing:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseConfigPairs(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    [][2]string
		wantErr string
	}{
		{in: "a=1", want: [][2]string{{"a", "1"}}},
		{in: "a=1,b=2", want: [][2]string{{"a", "1"}, {"b", "2"}}},
		{in: "cleanup.policy=compact,delete,b=2", want: [][2]string{{"cleanup.policy", "compact,delete"}, {"b", "2"}}},
		{in: "k=[a=1,b],c=3", want: [][2]string{{"k", "a=1,b"}, {"c", "3"}}},
		{in: "k=", want: [][2]string{{"k", ""}}},
		{in: " k =v=w", want: [][2]string{{"k", "v=w"}}},
		{in: "k=[]", want: [][2]string{{"k", ""}}},
		{in: "", wantErr: "want key=value"},
		{in: "k", wantErr: "want key=value"},
		{in: "=v", wantErr: "empty key"},
		{in: "k=[a", wantErr: "'[' without ']'"},
		{in: "k=a]", wantErr: "']' without '['"},
	} {
		got, err := parseConfigPairs(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseConfigPairs(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseConfigPairs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// Against a cluster that allows dynamic broker configs (franz-go's kfake,
// three brokers), a bare --broker picks the broker --bootstrap-server names,
// and a changed broker config reads back as DYNAMIC_BROKER_CONFIG.
func TestConfigsBrokerInCluster(t *testing.T) {
	checkNoGoroutineLeak(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	md, err := kadm.NewClient(cl).BrokerMetadata(context.Background())
	cl.Close()
	if err != nil || len(md.Brokers) != 3 {
		t.Fatalf("broker metadata: %v, %d brokers", err, len(md.Brokers))
	}
	for _, b := range md.Brokers {
		addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		r := mustRunAdmin(t, addr, "configs", "alter", "--broker", "--validate-only", "--set", "log.retention.ms=1000")
		if want := fmt.Sprintf("Validated config changes for broker %d; nothing was changed (--validate-only).\n", b.NodeID); r.stdout != want {
			t.Errorf("alter --broker via %s printed %q, want %q", addr, r.stdout, want)
		}
	}

	addr := c.ListenAddrs()[0]
	if r := mustRunAdmin(t, addr, "configs", "alter", "--broker", "--set", "log.retention.ms=3600000"); !strings.HasPrefix(r.stdout, "Completed updating config for broker ") {
		t.Errorf("alter --broker printed %q", r.stdout)
	}
	got := tableRow(cells(mustRunAdmin(t, addr, "configs", "describe", "--broker").stdout), "log.retention.ms")
	if want := "log.retention.ms | 3600000 | DYNAMIC_BROKER_CONFIG"; got != want {
		t.Errorf("describe --broker after alter: %q, want %q", got, want)
	}

	// A bootstrap address that is no broker's advertised one is ambiguous
	// in a cluster.
	_, port, _ := net.SplitHostPort(addr)
	runAdminErr(t, "localhost:"+port, "name one with --broker ID (brokers: 0, 1, 2)", "configs", "describe", "--broker")
}
