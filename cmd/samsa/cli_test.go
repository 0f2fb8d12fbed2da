package main

// End-to-end tests of the client subcommands (topics, produce, consume): each
// test starts a broker, runs the real cobra commands in-process against it
// over TCP and asserts on what they print.

import (
	"bytes"
	"context"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

// startCLITestBroker starts a broker for one test and returns its
// host:port. It is the one place that decides which broker the CLI tests
// talk to: today franz-go's in-memory kfake cluster (one node), later the
// samsa broker itself.
func startCLITestBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		t.Fatalf("kfake listens on %v, want one address", addrs)
	}
	return addrs[0]
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
	return runCLIContext(t, context.Background(), addr, strings.NewReader(stdin), args...)
}

func runCLIContext(t *testing.T, ctx context.Context, addr string, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	var cmd *cobra.Command
	switch args[0] {
	case "topics":
		cmd = newTopicsCmd()
	case "produce":
		cmd = newProduceCmd()
	case "consume":
		cmd = newConsumeCmd()
	default:
		t.Fatalf("runCLI: unknown command %q", args[0])
	}
	var stdout, stderr bytes.Buffer
	cmd.SetIn(stdin)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append(args[1:], "--bootstrap-server", addr, "--timeout", "5s"))
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(ctx)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
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
		"--config", "retention.ms=60000", "--config", "cleanup.policy=compact")
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
		`Configs: cleanup.policy=compact,retention.ms=60000$`)
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
	r = runCLI(t, addr, "", "topics", "create", "bad", "--config", "retention.ms")
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
