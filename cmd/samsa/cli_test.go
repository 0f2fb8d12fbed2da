package main

// End-to-end tests of the client subcommands (topics, produce, consume): each
// test starts a broker, runs the real cobra commands in-process against it
// over TCP and asserts on what they print.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

// startCLITestBroker starts a broker for one test and returns its
// host:port: the samsa broker itself, in-process, with auto topic creation
// off so that missing topics stay missing.
func startCLITestBroker(t *testing.T) string {
	t.Helper()
	return startCLITestBrokerWith(t, nil)
}

// startCLITestBrokerWith is startCLITestBroker with extra properties.
func startCLITestBrokerWith(t *testing.T, extra map[string]string) string {
	t.Helper()
	props := map[string]string{
		"listeners":                 "PLAINTEXT://127.0.0.1:0",
		"log.dirs":                  t.TempDir(),
		"auto.create.topics.enable": "false",
	}
	for k, v := range extra {
		props[k] = v
	}
	cfg, _, err := config.FromProperties(props)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, cfg, logger, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		t.Fatalf("start broker: %v", err)
	}
	return ""
}

// cliResult is what one command run printed and returned.
type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs one client subcommand (the first arg picks topics, produce or
// consume) against the broker at addr, feeding stdin, and returns its output.
func runCLI(t *testing.T, addr, stdin string, args ...string) cliResult {
	t.Helper()
	return runCLIContext(t, context.Background(), addr, strings.NewReader(stdin), new(syncBuffer), args...)
}

// runCLIContext is runCLI with a context (cancel it to interrupt the command),
// any stdin, and stdout going to a buffer the caller can watch meanwhile.
func runCLIContext(t *testing.T, ctx context.Context, addr string, stdin io.Reader, stdout *syncBuffer, args ...string) cliResult {
	t.Helper()
	cmd := newRootCmd() // the subcommand is args[0], as on the command line
	var stderr syncBuffer
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append(args, "--bootstrap-server", addr, "--timeout", "5s"))
	err := cmd.ExecuteContext(ctx)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mustRunCLI is runCLI for runs that must succeed.
func mustRunCLI(t *testing.T, addr, stdin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, addr, stdin, args...)
	if r.err != nil {
		t.Fatalf("samsa %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

// checkNoGoroutineLeak fails the test if goroutines started during it (client
// connections, fetch loops, the broker) are still running at its end.
func checkNoGoroutineLeak(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func TestTopicsCreateListDescribeDelete(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)

	r := mustRunCLI(t, addr, "", "topics", "create", "orders", "--partitions", "3", "--replication-factor", "1",
		"--config", "segment.bytes=1048576", "--config", "max.message.bytes=65536")
	if want := "Created topic orders.\n"; r.stdout != want {
		t.Fatalf("create output = %q, want %q", r.stdout, want)
	}
	mustRunCLI(t, addr, "", "topics", "create", "audit")

	r = mustRunCLI(t, addr, "", "topics", "list")
	wantList := "" +
		"TOPIC   PARTITIONS  REPLICATION-FACTOR\n" +
		"audit   1           1\n" +
		"orders  3           1\n"
	if r.stdout != wantList {
		t.Fatalf("list output:\n%s\nwant:\n%s", r.stdout, wantList)
	}

	// Give the partitions distinct end offsets, then check describe shows them.
	mustRunCLI(t, addr, "a\nb\n", "produce", "orders", "--partition", "1")
	mustRunCLI(t, addr, "c\n", "produce", "orders", "--partition", "2")

	r = mustRunCLI(t, addr, "", "topics", "describe", "orders")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("describe printed %d lines, want 4:\n%s", len(lines), r.stdout)
	}
	header := regexp.MustCompile(`^Topic: orders\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 1\t` +
		`Configs: max.message.bytes=65536,segment.bytes=1048576$`)
	if !header.MatchString(lines[0]) {
		t.Errorf("describe header = %q, want match for %v", lines[0], header)
	}
	for p, wantEnd := range []int{0, 2, 1} {
		partLine := regexp.MustCompile(`^\tTopic: orders\tPartition: ` + strconv.Itoa(p) +
			`\tLeader: \d+\tReplicas: \d+\tIsr: \d+\tLogStartOffset: 0\tLogEndOffset: ` + strconv.Itoa(wantEnd) + `$`)
		if !partLine.MatchString(lines[p+1]) {
			t.Errorf("describe partition %d = %q, want match for %v", p, lines[p+1], partLine)
		}
	}

	r = mustRunCLI(t, addr, "", "topics", "delete", "audit")
	if want := "Deleted topic audit.\n"; r.stdout != want {
		t.Fatalf("delete output = %q, want %q", r.stdout, want)
	}
	r = mustRunCLI(t, addr, "", "topics", "list")
	if want := "TOPIC   PARTITIONS  REPLICATION-FACTOR\norders  3           1\n"; r.stdout != want {
		t.Fatalf("list after delete:\n%s\nwant:\n%s", r.stdout, want)
	}
}

func TestTopicsErrors(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "orders")

	r := runCLI(t, addr, "", "topics", "create", "orders")
	if r.err == nil || !strings.Contains(r.err.Error(), `create topic "orders": TOPIC_ALREADY_EXISTS`) {
		t.Errorf("create existing topic: err = %v, want TOPIC_ALREADY_EXISTS", r.err)
	}
	r = runCLI(t, addr, "", "topics", "delete", "missing")
	if r.err == nil || !strings.Contains(r.err.Error(), `delete topic "missing": UNKNOWN_TOPIC_OR_PARTITION`) {
		t.Errorf("delete missing topic: err = %v, want UNKNOWN_TOPIC_OR_PARTITION", r.err)
	}
	// Describing a mix prints what exists and fails for the rest.
	r = runCLI(t, addr, "", "topics", "describe", "orders", "missing")
	if r.err == nil || !strings.Contains(r.err.Error(), `describe topic "missing": UNKNOWN_TOPIC_OR_PARTITION`) {
		t.Errorf("describe missing topic: err = %v, want UNKNOWN_TOPIC_OR_PARTITION", r.err)
	}
	if !strings.HasPrefix(r.stdout, "Topic: orders\t") {
		t.Errorf("describe orders+missing printed %q, want the orders description", r.stdout)
	}
	r = runCLI(t, addr, "", "topics", "crate", "x")
	if r.err == nil || !strings.Contains(r.err.Error(), `unknown command "crate"`) {
		t.Errorf("mistyped subcommand: err = %v", r.err)
	}
	r = runCLI(t, addr, "", "topics", "create", "bad", "--config", "segment.bytes")
	if r.err == nil || !strings.Contains(r.err.Error(), "want key=value") {
		t.Errorf("create with malformed --config: err = %v", r.err)
	}
}

func TestBrokerNotReachable(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := closedLocalAddr(t)
	for _, args := range [][]string{
		{"topics", "list"},
		{"produce", "orders"},
		{"consume", "orders"},
	} {
		start := time.Now()
		r := runCLI(t, addr, "x\n", args...)
		elapsed := time.Since(start)
		if r.err == nil {
			t.Fatalf("%v against closed port %s: no error", args, addr)
		}
		if want := "cannot reach broker at " + addr + ": "; !strings.HasPrefix(r.err.Error(), want) {
			t.Errorf("%v: err = %q, want prefix %q", args, r.err, want)
		}
		// A refused connection is immediate; allow for a slow CI machine
		// but not for retry loops that run into the 5s --timeout.
		if elapsed > 3*time.Second {
			t.Errorf("%v: took %v to report a missing broker", args, elapsed)
		}
	}
}

// closedLocalAddr returns a 127.0.0.1 address nobody listens on.
func closedLocalAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "events", "--partitions", "1")

	input := "user1:signed up\n" +
		"no separator here\n" +
		"user2:a:b:c\n" +
		"\n" +
		":empty key\r\n" +
		"last line without newline"
	r := mustRunCLI(t, addr, input, "produce", "events", "--key-separator", ":",
		"--header", "source=cli", "--header", "trace=a=b")
	if want := "produced 6 records to topic events\n"; r.stderr != want {
		t.Errorf("produce stderr = %q, want %q", r.stderr, want)
	}

	r = mustRunCLI(t, addr, "", "consume", "events", "--from-beginning",
		"--format", `%t/%p@%o [%k] %s {%h}\n`)
	want := "" +
		"events/0@0 [user1] signed up {source=cli,trace=a=b}\n" +
		"events/0@1 [] no separator here {source=cli,trace=a=b}\n" +
		"events/0@2 [user2] a:b:c {source=cli,trace=a=b}\n" +
		"events/0@3 []  {source=cli,trace=a=b}\n" +
		"events/0@4 [] empty key {source=cli,trace=a=b}\n" +
		"events/0@5 [] last line without newline {source=cli,trace=a=b}\n"
	if r.stdout != want {
		t.Errorf("consume output:\n%s\nwant:\n%s", r.stdout, want)
	}
	if want := "consumed 6 records from topic events\n"; r.stderr != want {
		t.Errorf("consume stderr = %q, want %q", r.stderr, want)
	}

	// Default format is the value alone; --print-key adds the key and a tab.
	r = mustRunCLI(t, addr, "", "consume", "events", "--from-beginning", "--max-messages", "3")
	if want := "signed up\nno separator here\na:b:c\n"; r.stdout != want {
		t.Errorf("default format with --max-messages 3:\n%q\nwant:\n%q", r.stdout, want)
	}
	r = mustRunCLI(t, addr, "", "consume", "events", "--from-beginning", "--print-key", "--max-messages", "1")
	if want := "user1\tsigned up\n"; r.stdout != want {
		t.Errorf("--print-key output = %q, want %q", r.stdout, want)
	}

	// Timestamps are milliseconds since the epoch, around now.
	r = mustRunCLI(t, addr, "", "consume", "events", "--offset", "5", "--format", `%T`)
	ts, err := strconv.ParseInt(r.stdout, 10, 64)
	if err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Minute {
		t.Errorf("%%T printed %q, want a millisecond timestamp near now", r.stdout)
	}
}

func TestConsumeStartingPoints(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "nums", "--partitions", "2")
	mustRunCLI(t, addr, "0\n1\n2\n3\n4\n", "produce", "nums", "--partition", "0")
	mustRunCLI(t, addr, "a\nb\n", "produce", "nums", "--partition", "1")

	for _, tc := range []struct {
		name     string
		args     []string
		stdout   string
		stderr   string
		anyOrder bool // lines come from several partitions
	}{
		{
			name:   "default reads only new records, so nothing without --follow",
			args:   nil,
			stdout: "",
		},
		{
			name:   "offset on one partition",
			args:   []string{"--partition", "0", "--offset", "3"},
			stdout: "0:3=3\n0:4=4\n",
		},
		{
			name:     "negative offset counts back from the end of each partition",
			args:     []string{"--offset", "-1"},
			stdout:   "0:4=4\n1:1=b\n",
			anyOrder: true,
		},
		{
			name:   "offset past the end is clamped with a warning",
			args:   []string{"--partition", "1", "--offset", "7"},
			stdout: "",
			stderr: "partition 1: offset 7 is outside [0, 2]; starting at 2\n",
		},
		{
			name:   "one partition from the beginning",
			args:   []string{"--partition", "1", "--from-beginning"},
			stdout: "1:0=a\n1:1=b\n",
		},
		{
			name:   "max messages on one partition",
			args:   []string{"--partition", "0", "--from-beginning", "--max-messages", "2"},
			stdout: "0:0=0\n0:1=1\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", "nums", "--format", `%p:%o=%s\n`}, tc.args...)
			r := mustRunCLI(t, addr, "", args...)
			if tc.anyOrder {
				r.stdout = sortedLines(r.stdout)
			}
			if r.stdout != tc.stdout {
				t.Errorf("stdout:\n%q\nwant:\n%q", r.stdout, tc.stdout)
			}
			if !strings.HasPrefix(r.stderr, tc.stderr) {
				t.Errorf("stderr = %q, want prefix %q", r.stderr, tc.stderr)
			}
		})
	}

	// All partitions from the beginning: per-partition order is kept, the
	// interleaving between partitions is not specified.
	r := mustRunCLI(t, addr, "", "consume", "nums", "--from-beginning", "--format", `%p:%s\n`)
	var p0, p1 []string
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "0:"):
			p0 = append(p0, line)
		case strings.HasPrefix(line, "1:"):
			p1 = append(p1, line)
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if got, want := strings.Join(p0, " "), "0:0 0:1 0:2 0:3 0:4"; got != want {
		t.Errorf("partition 0 records = %q, want %q", got, want)
	}
	if got, want := strings.Join(p1, " "), "1:a 1:b"; got != want {
		t.Errorf("partition 1 records = %q, want %q", got, want)
	}
}

func TestConsumeFollow(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "live", "--partitions", "1")
	if r := mustRunCLI(t, addr, "first\n", "produce", "live"); r.stderr != "produced 1 record to topic live\n" {
		t.Errorf("produce stderr = %q", r.stderr)
	}

	// Follow until three records were printed: one old, two produced while
	// the consumer waits.
	stdout := new(syncBuffer)
	done := make(chan cliResult, 1)
	go func() {
		done <- runCLIContext(t, context.Background(), addr, strings.NewReader(""), stdout,
			"consume", "live", "--from-beginning", "-f", "--max-messages", "3")
	}()
	waitForOutput(t, stdout, "first\n")
	if r := mustRunCLI(t, addr, "second\nthird\n", "produce", "live"); r.stderr != "produced 2 records to topic live\n" {
		t.Errorf("produce stderr = %q", r.stderr)
	}
	r := <-done
	if r.err != nil || r.stdout != "first\nsecond\nthird\n" {
		t.Fatalf("follow: err = %v, stdout = %q", r.err, r.stdout)
	}

	// Following only new records, then interrupted: exits cleanly.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout = new(syncBuffer)
	go func() {
		done <- runCLIContext(t, ctx, addr, strings.NewReader(""), stdout, "consume", "live", "--follow")
	}()
	// The consumer may start after this produce and miss it, so produce
	// until one record arrives.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "new\n") {
		if time.Now().After(deadline) {
			t.Fatalf("follow without --from-beginning printed %q, want new records", stdout.String())
		}
		mustRunCLI(t, addr, "new\n", "produce", "live")
	}
	cancel()
	r = <-done
	if r.err != nil {
		t.Fatalf("interrupted consume: %v", r.err)
	}
	if strings.Contains(r.stdout, "first") || !regexp.MustCompile(`^consumed \d+ records? from topic live\n$`).MatchString(r.stderr) {
		t.Errorf("interrupted consume: stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

// sortedLines returns the lines of s in sorted order.
func sortedLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// waitForOutput waits until buf contains want.
func waitForOutput(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q does not contain %q after 10s", buf.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProduceSettings(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "codecs", "--partitions", "1")

	var want strings.Builder
	settings := [][]string{
		{"--compression", "gzip"},
		{"--compression", "snappy"},
		{"--compression", "lz4"},
		{"--compression", "zstd", "--linger", "0s"},
		{"--acks", "1"},
		{"--acks", "0"},
	}
	for _, s := range settings {
		line := strings.Join(s, " ")
		mustRunCLI(t, addr, line+"\n", append([]string{"produce", "codecs"}, s...)...)
		want.WriteString(line + "\n")
	}
	// With acks=0 nothing says when the broker has the record, so follow
	// until all arrived instead of reading up to the current end.
	r := mustRunCLI(t, addr, "", "consume", "codecs", "--from-beginning", "-f",
		"--max-messages", strconv.Itoa(len(settings)))
	if r.stdout != want.String() {
		t.Errorf("consumed:\n%s\nwant:\n%s", r.stdout, want.String())
	}
}

func TestProduceLargeInput(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "bulk", "--partitions", "3")

	const n = 50000
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "k%d:%d\n", i%7, i)
	}
	r := mustRunCLI(t, addr, in.String(), "produce", "bulk", "--key-separator", ":")
	if want := fmt.Sprintf("produced %d records to topic bulk\n", n); r.stderr != want {
		t.Fatalf("produce stderr = %q, want %q", r.stderr, want)
	}
	r = mustRunCLI(t, addr, "", "consume", "bulk", "--from-beginning", "--format", `%k %s\n`)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("consumed %d records, want %d", len(lines), n)
	}
	seen := make([]bool, n)
	for _, line := range lines {
		var k, v int
		if _, err := fmt.Sscanf(line, "k%d %d", &k, &v); err != nil || v < 0 || v >= n || k != v%7 || seen[v] {
			t.Fatalf("bad or duplicate record %q", line)
		}
		seen[v] = true
	}
}

func TestProduceConsumeErrors(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "small", "--partitions", "2")

	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"produce", "missing"}, "UNKNOWN_TOPIC_OR_PARTITION"},
		{[]string{"produce", "small", "--partition", "5"}, "produce to topic small: 1 of 1 records failed"},
		{[]string{"produce", "small", "--acks", "2"}, `--acks "2": want all, 1 or 0`},
		{[]string{"produce", "small", "--compression", "brotli"}, `--compression "brotli"`},
		{[]string{"produce", "small", "--header", "novalue"}, `--header "novalue": want key=value`},
		{[]string{"consume", "missing"}, "look up topic missing: UNKNOWN_TOPIC_OR_PARTITION"},
		{[]string{"consume", "small", "--partition", "5"}, "topic small has no partition 5 (it has 2 partitions)"},
		{[]string{"consume", "small", "--format", "%x"}, "unknown directive %x"},
		{[]string{"consume", "small", "--from-beginning", "--offset", "1"}, "none of the others can be"},
	} {
		start := time.Now()
		r := runCLI(t, addr, "x\n", tc.args...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
			t.Errorf("%v: err = %v, want it to contain %q", tc.args, r.err, tc.wantErr)
		}
		if elapsed := time.Since(start); elapsed > 8*time.Second {
			t.Errorf("%v: took %v", tc.args, elapsed)
		}
	}
}

func TestParseRecordFormat(t *testing.T) {
	rec := &kgo.Record{
		Topic: "t", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte("v"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b"}},
	}
	for _, tc := range []struct {
		format, want, wantErr string
	}{
		{format: `%s\n`, want: "v\n"},
		{format: `%t %p %o %k %s %T %h`, want: "t 3 42 k v 1700000000123 a=1,b="},
		{format: `100%% \\ \t\r`, want: "100% \\ \t\r"},
		{format: `plain`, want: "plain"},
		{format: ``, want: ""},
		{format: `%`, wantErr: "lone"},
		{format: `\`, wantErr: "lone"},
		{format: `%q`, wantErr: "unknown directive %q"},
		{format: `\x`, wantErr: `unknown escape \x`},
	} {
		f, err := parseRecordFormat(tc.format)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseRecordFormat(%q) err = %v, want %q", tc.format, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRecordFormat(%q): %v", tc.format, err)
			continue
		}
		if got := string(f.appendRecord(nil, rec)); got != tc.want {
			t.Errorf("format %q printed %q, want %q", tc.format, got, tc.want)
		}
	}
}

// A committed transaction ends with a control record (the commit marker) that
// the consumer does not print; reading up to the end offset must still stop.
func TestConsumeStopsAfterTransactionMarker(t *testing.T) {
	checkNoGoroutineLeak(t)
	// Samsa has no transactions yet, so this CLI behaviour is checked
	// against franz-go's kfake; move it to startCLITestBroker when they land.
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	mustRunCLI(t, addr, "", "topics", "create", "txn", "--partitions", "1")

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("cli-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"one", "two"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "txn", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r := runCLIContext(t, ctx, addr, strings.NewReader(""), new(syncBuffer), "consume", "txn", "--from-beginning")
	if ctx.Err() != nil {
		t.Fatal("consume did not stop at the end offset after a transaction marker")
	}
	if r.err != nil || r.stdout != "one\ntwo\n" {
		t.Fatalf("consume: err = %v, stdout = %q", r.err, r.stdout)
	}
}

// failingReader returns its error after the data of its reader.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func TestProduceDeliversLinesReadBeforeInputError(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startCLITestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "partial", "--partitions", "1")

	stdin := &failingReader{r: strings.NewReader("a\nb\n"), err: errors.New("disk on fire")}
	r := runCLIContext(t, context.Background(), addr, stdin, new(syncBuffer), "produce", "partial")
	if r.err == nil || r.err.Error() != "read standard input: disk on fire" {
		t.Errorf("err = %v, want the read error", r.err)
	}
	if want := "produced 2 records to topic partial\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	if r := mustRunCLI(t, addr, "", "consume", "partial", "--from-beginning"); r.stdout != "a\nb\n" {
		t.Errorf("consumed %q, want the lines read before the error", r.stdout)
	}
}

// TestBenchProduceGroupNeedsConsume: the group flags of bench produce
// describe its read-back, so without --consume they are refused rather than
// ignored (before any connection is tried).
func TestBenchProduceGroupNeedsConsume(t *testing.T) {
	for _, flags := range [][]string{{"--group", "g"}, {"--consumers", "2"}, {"--group-protocol", "consumer"}} {
		cmd := newRootCmd()
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append([]string{"bench", "produce", "--bootstrap-server", "127.0.0.1:1", "-q"}, flags...))
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "add --consume") {
			t.Errorf("%v: %v", flags, err)
		}
	}
}
