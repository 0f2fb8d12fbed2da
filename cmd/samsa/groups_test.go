package main

// End-to-end tests of `samsa groups` against the real broker, with a real
// franz-go group consumer providing members, assignments and commits.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startGroupsTestBroker is startCLITestBroker with no initial rebalance
// delay, so that a lone consumer joins its group at once.
func startGroupsTestBroker(t *testing.T) string {
	t.Helper()
	cfg, _, err := config.FromProperties(map[string]string{
		"listeners":                        "PLAINTEXT://127.0.0.1:0",
		"log.dirs":                         t.TempDir(),
		"auto.create.topics.enable":        "false",
		"group.initial.rebalance.delay.ms": "0",
	})
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

// runGroups runs `samsa groups ARGS...` against the broker at addr.
func runGroups(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	cmd := newGroupsCmd()
	var stdout, stderr syncBuffer
	cmd.SetIn(strings.NewReader(""))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append(args, "--bootstrap-server", addr, "--timeout", "5s"))
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func mustRunGroups(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	r := runGroups(t, addr, args...)
	if r.err != nil {
		t.Fatalf("samsa groups %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

// runGroupsErr runs a command that must fail with an error containing want.
func runGroupsErr(t *testing.T, addr, want string, args ...string) cliResult {
	t.Helper()
	r := runGroups(t, addr, args...)
	if r.err == nil || !strings.Contains(r.err.Error(), want) {
		t.Fatalf("samsa groups %s: err = %v, want one containing %q\nstdout:\n%s", strings.Join(args, " "), r.err, want, r.stdout)
	}
	return r
}

var tableGap = regexp.MustCompile(` {2,}`)

// cells rewrites a tabwriter table with " | " between cells, so that tests
// can state expected tables without counting padding (no cell has two
// spaces in a row).
func cells(table string) string {
	lines := strings.Split(table, "\n")
	for i, l := range lines {
		lines[i] = tableGap.ReplaceAllString(l, " | ")
	}
	return strings.Join(lines, "\n")
}

// committedOffsets reads CURRENT-OFFSET per "topic/partition" from
// `groups describe GROUP --offsets`.
func committedOffsets(t *testing.T, addr, group string) map[string]string {
	t.Helper()
	r := mustRunGroups(t, addr, "describe", group, "--offsets")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(cells(r.stdout)), "\n")[1:] {
		f := strings.Split(line, " | ")
		if len(f) != 9 {
			t.Fatalf("offsets row %q has %d cells, want 9", line, len(f))
		}
		got[f[1]+"/"+f[2]] = f[3]
	}
	return got
}

func checkCommitted(t *testing.T, addr, group string, want map[string]string) {
	t.Helper()
	if got := committedOffsets(t, addr, group); !maps.Equal(got, want) {
		t.Fatalf("committed offsets of %s = %v, want %v", group, got, want)
	}
}

// waitForGroupState waits until `groups list` shows group in state.
func waitForGroupState(t *testing.T, addr, group, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(group) + ` +` + state + ` `)
	for {
		r := mustRunGroups(t, addr, "list")
		if want.MatchString(r.stdout) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s did not reach state %s; list shows:\n%s", group, state, r.stdout)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not a fixed wait
	}
}

// produceAt writes one record per timestamp to partition 0 of topic.
func produceAt(t *testing.T, addr, topic string, times []time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, ts := range times {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Timestamp: ts, Value: fmt.Appendf(nil, "r%d", i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// startGroupConsumer joins group as a franz-go consumer of topics (range
// assignor, manual commits) and reads until it has seen end[p]-1 of every
// partition p in end, which also proves it holds the assignment.
func startGroupConsumer(t *testing.T, addr, group, topic string, end map[int32]int64) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID("etl-worker"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[int32]int64{}
	done := func() bool {
		for p, e := range end {
			if seen[p] < e-1 {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			cl.Close()
			t.Fatalf("consumer saw %v, want last offsets of %v", seen, end)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { seen[r.Partition] = max(seen[r.Partition], r.Offset) })
	}
	return cl
}

// commitAs commits offsets as the group member cl.
func commitAs(t *testing.T, cl *kgo.Client, offsets map[string]map[int32]int64) {
	t.Helper()
	eo := map[string]map[int32]kgo.EpochOffset{}
	for topic, ps := range offsets {
		eo[topic] = map[int32]kgo.EpochOffset{}
		for p, o := range ps {
			eo[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var commitErr error
	cl.CommitOffsetsSync(ctx, eo, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, err)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}
}

func TestGroupsWithLiveConsumer(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startGroupsTestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "orders", "--partitions", "2")
	mustRunCLI(t, addr, "", "topics", "create", "events", "--partitions", "1")
	mustRunCLI(t, addr, strings.Repeat("o\n", 10), "produce", "orders", "--partition", "0")
	mustRunCLI(t, addr, strings.Repeat("o\n", 4), "produce", "orders", "--partition", "1")
	mustRunCLI(t, addr, strings.Repeat("e\n", 6), "produce", "events", "--partition", "0")

	cl := startGroupConsumer(t, addr, "etl", "orders", map[int32]int64{0: 10, 1: 4})
	closed := false
	defer func() {
		if !closed {
			cl.Close()
		}
	}()
	// orders as a consumer would commit; events, which nobody in the group
	// consumes, shows an offset that no member owns.
	commitAs(t, cl, map[string]map[int32]int64{"orders": {0: 6, 1: 4}, "events": {0: 1}})
	member, _ := cl.GroupMetadata()
	if member == "" {
		t.Fatal("consumer has no member id")
	}

	r := mustRunGroups(t, addr, "list")
	if want := "GROUP  STATE   PROTOCOL-TYPE\netl    Stable  consumer\n"; r.stdout != want {
		t.Fatalf("list:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = mustRunGroups(t, addr, "list", "--state", "empty,Dead")
	if want := "GROUP  STATE  PROTOCOL-TYPE\n"; r.stdout != want {
		t.Fatalf("list --state empty,Dead:\n%s\nwant:\n%s", r.stdout, want)
	}
	runGroupsErr(t, addr, `--state "Sleeping": unknown group state`, "list", "--state", "Sleeping")

	wantState := "" +
		"GROUP | COORDINATOR (ID) | PROTOCOL-TYPE | ASSIGNMENT-STRATEGY | STATE | #MEMBERS\n" +
		"etl | " + addr + " (1) | consumer | range | Stable | 1\n"
	wantMembers := "" +
		"GROUP | CONSUMER-ID | GROUP-INSTANCE-ID | HOST | CLIENT-ID | #PARTITIONS | ASSIGNMENT\n" +
		"etl | " + member + " | - | /127.0.0.1 | etl-worker | 2 | orders(0,1)\n"
	wantOffsets := "" +
		"GROUP | TOPIC | PARTITION | CURRENT-OFFSET | LOG-END-OFFSET | LAG | CONSUMER-ID | HOST | CLIENT-ID\n" +
		"etl | events | 0 | 1 | 6 | 5 | - | - | -\n" +
		"etl | orders | 0 | 6 | 10 | 4 | " + member + " | /127.0.0.1 | etl-worker\n" +
		"etl | orders | 1 | 4 | 4 | 0 | " + member + " | /127.0.0.1 | etl-worker\n"
	r = mustRunGroups(t, addr, "describe", "etl")
	if got, want := cells(r.stdout), wantState+"\n"+wantMembers+"\n"+wantOffsets; got != want {
		t.Fatalf("describe:\n%s\nwant:\n%s", got, want)
	}
	for flag, want := range map[string]string{"--state": wantState, "--members": wantMembers, "--offsets": wantOffsets} {
		r = mustRunGroups(t, addr, "describe", "etl", flag)
		if got := cells(r.stdout); got != want {
			t.Errorf("describe %s:\n%s\nwant:\n%s", flag, got, want)
		}
	}

	// While a member is active: no reset, no delete, and no deleting the
	// offsets of a topic the members consume.
	r = runGroupsErr(t, addr, `cannot reset offsets of group "etl": it has active members (state Stable, 1 members)`,
		"reset-offsets", "--group", "etl", "--all-topics", "--to-earliest")
	if r.stdout != "" {
		t.Errorf("refused reset printed:\n%s", r.stdout)
	}
	runGroupsErr(t, addr, "cannot reset offsets", "reset-offsets", "--group", "etl", "--topic", "orders", "--to-latest", "--execute")
	runGroupsErr(t, addr, `delete group "etl": NON_EMPTY_GROUP`, "delete", "etl")
	r = runGroupsErr(t, addr, "delete offset of orders partition 0: GROUP_SUBSCRIBED_TO_TOPIC",
		"delete-offsets", "--group", "etl", "--topic", "orders:0")
	if want := "TOPIC | PARTITION | STATUS\norders | 0 | Error: GROUP_SUBSCRIBED_TO_TOPIC\n"; cells(r.stdout) != want {
		t.Errorf("delete-offsets of a consumed topic:\n%s\nwant:\n%s", cells(r.stdout), want)
	}
	r = mustRunGroups(t, addr, "delete-offsets", "--group", "etl", "--topic", "events")
	if want := "TOPIC | PARTITION | STATUS\nevents | 0 | Successful\n"; cells(r.stdout) != want {
		t.Errorf("delete-offsets events:\n%s\nwant:\n%s", cells(r.stdout), want)
	}
	checkCommitted(t, addr, "etl", map[string]string{"orders/0": "6", "orders/1": "4"})

	// Closing the client leaves the group; its offsets stay, owned by nobody.
	cl.Close()
	closed = true
	waitForGroupState(t, addr, "etl", "Empty")
	r = mustRunGroups(t, addr, "describe", "etl", "--state", "--offsets")
	want := "" +
		"GROUP | COORDINATOR (ID) | PROTOCOL-TYPE | ASSIGNMENT-STRATEGY | STATE | #MEMBERS\n" +
		"etl | " + addr + " (1) | consumer | - | Empty | 0\n" +
		"\n" +
		"GROUP | TOPIC | PARTITION | CURRENT-OFFSET | LOG-END-OFFSET | LAG | CONSUMER-ID | HOST | CLIENT-ID\n" +
		"etl | orders | 0 | 6 | 10 | 4 | - | - | -\n" +
		"etl | orders | 1 | 4 | 4 | 0 | - | - | -\n"
	if got := cells(r.stdout); got != want {
		t.Fatalf("describe after the consumer left:\n%s\nwant:\n%s", got, want)
	}

	mustRunGroups(t, addr, "delete", "etl")
	r = mustRunGroups(t, addr, "list")
	if want := "GROUP  STATE  PROTOCOL-TYPE\n"; r.stdout != want {
		t.Fatalf("list after delete:\n%s\nwant:\n%s", r.stdout, want)
	}
}
