package main

// End-to-end tests of `samsa groups` against the real broker, with a real
// franz-go group consumer providing members, assignments and commits.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startGroupsTestBroker is startCLITestBroker with no initial rebalance
// delay, so that a lone consumer joins its group at once.
func startGroupsTestBroker(t *testing.T) string {
	t.Helper()
	return startCLITestBrokerWith(t, map[string]string{"group.initial.rebalance.delay.ms": "0"})
}

// runGroups runs `samsa groups ARGS...` against the broker at addr.
func runGroups(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	return runCLI(t, addr, "", append([]string{"groups"}, args...)...)
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

// startGroupConsumer joins group as a franz-go consumer of topic (range
// assignor, manual commits) and reads until it has seen end[p]-1 of every
// partition p in end, which also proves it holds the assignment. With end
// empty it returns at once and the client joins in the background.
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
		// Members learn of a rebalance on their next heartbeat.
		kgo.HeartbeatInterval(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(end) == 0 {
		return cl
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

func TestGroupsResetOffsets(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startGroupsTestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "orders", "--partitions", "2")
	mustRunCLI(t, addr, "", "topics", "create", "events", "--partitions", "1")
	mustRunCLI(t, addr, "", "topics", "create", "audit", "--partitions", "1")
	mustRunCLI(t, addr, strings.Repeat("o\n", 10), "produce", "orders", "--partition", "0")
	mustRunCLI(t, addr, strings.Repeat("o\n", 4), "produce", "orders", "--partition", "1")
	// events: offset i has timestamp 2026-01-02T15:04:05Z + i minutes.
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	var times []time.Time
	for i := range 6 {
		times = append(times, t0.Add(time.Duration(i)*time.Minute))
	}
	produceAt(t, addr, "events", times)

	cl := startGroupConsumer(t, addr, "etl", "orders", map[int32]int64{0: 10, 1: 4})
	commitAs(t, cl, map[string]map[int32]int64{"orders": {0: 6, 1: 4}})
	cl.Close()
	waitForGroupState(t, addr, "etl", "Empty")
	checkCommitted(t, addr, "etl", map[string]string{"orders/0": "6", "orders/1": "4"})

	// Dry runs print the plan and change nothing.
	for _, dry := range [][]string{nil, {"--dry-run"}} {
		args := append([]string{"reset-offsets", "--group", "etl", "--all-topics", "--to-earliest"}, dry...)
		r := mustRunGroups(t, addr, args...)
		if want := "GROUP | TOPIC | PARTITION | NEW-OFFSET\netl | orders | 0 | 0\netl | orders | 1 | 0\n"; cells(r.stdout) != want {
			t.Fatalf("dry run %v:\n%s\nwant:\n%s", dry, cells(r.stdout), want)
		}
		if !strings.Contains(r.stderr, "Dry run: nothing was committed") {
			t.Errorf("dry run %v stderr = %q, want the dry-run note", dry, r.stderr)
		}
		checkCommitted(t, addr, "etl", map[string]string{"orders/0": "6", "orders/1": "4"})
	}

	steps := []struct {
		args       []string
		wantRows   string // NEW-OFFSET rows, cells joined by " | "
		wantStderr string
		committed  map[string]string
	}{
		{[]string{"--all-topics", "--to-earliest"}, "etl | orders | 0 | 0\netl | orders | 1 | 0\n", "",
			map[string]string{"orders/0": "0", "orders/1": "0"}},
		{[]string{"--topic", "orders", "--to-latest"}, "etl | orders | 0 | 10\netl | orders | 1 | 4\n", "",
			map[string]string{"orders/0": "10", "orders/1": "4"}},
		{[]string{"--topic", "orders:0", "--to-offset", "3"}, "etl | orders | 0 | 3\n", "",
			map[string]string{"orders/0": "3", "orders/1": "4"}},
		{[]string{"--all-topics", "--to-offset", "7"}, "etl | orders | 0 | 7\netl | orders | 1 | 4\n",
			"orders partition 1: offset 7 is outside the log (start 0, end 4); using 4\n",
			map[string]string{"orders/0": "7", "orders/1": "4"}},
		{[]string{"--all-topics", "--shift-by", "-5"}, "etl | orders | 0 | 2\netl | orders | 1 | 0\n",
			"orders partition 1: offset -1 is outside the log (start 0, end 4); using 0\n",
			map[string]string{"orders/0": "2", "orders/1": "0"}},
		{[]string{"--topic", "orders", "--shift-by", "2"}, "etl | orders | 0 | 4\netl | orders | 1 | 2\n", "",
			map[string]string{"orders/0": "4", "orders/1": "2"}},
		{[]string{"--topic", "orders:1,0", "--shift-by", "100"}, "etl | orders | 0 | 10\netl | orders | 1 | 4\n",
			"orders partition 0: offset 104 is outside the log (start 0, end 10); using 10\n" +
				"orders partition 1: offset 102 is outside the log (start 0, end 4); using 4\n",
			map[string]string{"orders/0": "10", "orders/1": "4"}},
		{[]string{"--all-topics", "--shift-by", "-3"}, "etl | orders | 0 | 7\netl | orders | 1 | 1\n", "",
			map[string]string{"orders/0": "7", "orders/1": "1"}},
		{[]string{"--all-topics", "--to-current"}, "etl | orders | 0 | 7\netl | orders | 1 | 1\n", "",
			map[string]string{"orders/0": "7", "orders/1": "1"}},
		// A partition without a committed offset: --to-current takes the log end.
		{[]string{"--topic", "audit", "--to-current"}, "etl | audit | 0 | 0\n", "",
			map[string]string{"audit/0": "0", "orders/0": "7", "orders/1": "1"}},
		// By time: the first record at or after it, the log end after the last.
		{[]string{"--topic", "events", "--to-datetime", "2026-01-02T15:06:05Z"}, "etl | events | 0 | 2\n", "",
			map[string]string{"audit/0": "0", "events/0": "2", "orders/0": "7", "orders/1": "1"}},
		{[]string{"--topic", "events", "--to-datetime", "2026-01-02T16:07:00.5+01:00"}, "etl | events | 0 | 3\n", "",
			map[string]string{"audit/0": "0", "events/0": "3", "orders/0": "7", "orders/1": "1"}},
		{[]string{"--topic", "events", "--to-datetime", "2026-01-02T15:04:05.001Z"}, "etl | events | 0 | 1\n", "",
			map[string]string{"audit/0": "0", "events/0": "1", "orders/0": "7", "orders/1": "1"}},
		{[]string{"--topic", "events", "--to-datetime", "2030-01-01T00:00:00Z"}, "etl | events | 0 | 6\n", "",
			map[string]string{"audit/0": "0", "events/0": "6", "orders/0": "7", "orders/1": "1"}},
		{[]string{"--topic", "events", "--to-datetime", "2020-01-01T00:00:00.000-0700"}, "etl | events | 0 | 0\n", "",
			map[string]string{"audit/0": "0", "events/0": "0", "orders/0": "7", "orders/1": "1"}},
		{[]string{"--topic", "events", "--topic", "orders:1", "--to-offset", "1"}, "etl | events | 0 | 1\netl | orders | 1 | 1\n", "",
			map[string]string{"audit/0": "0", "events/0": "1", "orders/0": "7", "orders/1": "1"}},
	}
	for _, s := range steps {
		args := append([]string{"reset-offsets", "--group", "etl", "--execute"}, s.args...)
		r := mustRunGroups(t, addr, args...)
		if want := "GROUP | TOPIC | PARTITION | NEW-OFFSET\n" + s.wantRows; cells(r.stdout) != want {
			t.Fatalf("%v:\n%s\nwant:\n%s", s.args, cells(r.stdout), want)
		}
		if r.stderr != s.wantStderr {
			t.Errorf("%v stderr = %q, want %q", s.args, r.stderr, s.wantStderr)
		}
		checkCommitted(t, addr, "etl", s.committed)
	}
	after := map[string]string{"audit/0": "0", "events/0": "1", "orders/0": "7", "orders/1": "1"}

	// Refusals commit nothing, not even for the partitions that were fine.
	mustRunGroups(t, addr, "delete-offsets", "--group", "etl", "--topic", "audit")
	delete(after, "audit/0")
	runGroupsErr(t, addr, `cannot shift audit partition 0: group "etl" has no committed offset for it`,
		"reset-offsets", "--group", "etl", "--topic", "orders", "--topic", "audit", "--shift-by", "1", "--execute")
	runGroupsErr(t, addr, `topic "nosuch": UNKNOWN_TOPIC_OR_PARTITION`,
		"reset-offsets", "--group", "etl", "--topic", "nosuch", "--topic", "orders", "--to-earliest", "--execute")
	runGroupsErr(t, addr, `topic "orders" has no partition 5 (it has 2)`,
		"reset-offsets", "--group", "etl", "--topic", "orders:0,5", "--to-earliest", "--execute")
	checkCommitted(t, addr, "etl", after)

	// Flags are checked before anything is sent.
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--group is required", []string{"--all-topics", "--to-earliest"}},
		{"name the partitions to reset with --topic or --all-topics", []string{"--group", "etl", "--to-earliest"}},
		{"--topic and --all-topics are mutually exclusive", []string{"--group", "etl", "--topic", "orders", "--all-topics", "--to-earliest"}},
		{"say where to reset to", []string{"--group", "etl", "--all-topics"}},
		{"--shift-by, --to-earliest are mutually exclusive", []string{"--group", "etl", "--all-topics", "--to-earliest", "--shift-by", "0"}},
		{"--to-offset -1: offsets are not negative", []string{"--group", "etl", "--all-topics", "--to-offset", "-1"}},
		{`--to-datetime "yesterday": want YYYY-MM-DDTHH:mm:SS`, []string{"--group", "etl", "--all-topics", "--to-datetime", "yesterday"}},
		{"--execute and --dry-run are mutually exclusive", []string{"--group", "etl", "--all-topics", "--to-latest", "--execute", "--dry-run"}},
		{`--topic "orders:x": partition "x" is not a non-negative number`, []string{"--group", "etl", "--topic", "orders:x", "--to-latest"}},
		{`group "nobody" has no committed offsets; name the topics to reset with --topic`, []string{"--group", "nobody", "--all-topics", "--to-latest"}},
	} {
		runGroupsErr(t, addr, c.want, append([]string{"reset-offsets"}, c.args...)...)
	}
	checkCommitted(t, addr, "etl", after)

	// Resetting a group that does not exist yet creates it with offsets
	// only (as kafka-consumer-groups.sh allows).
	mustRunGroups(t, addr, "reset-offsets", "--group", "fresh", "--topic", "orders:1", "--to-offset", "2", "--execute")
	r := mustRunGroups(t, addr, "list")
	if want := "GROUP | STATE | PROTOCOL-TYPE\netl | Empty | consumer\nfresh | Empty | -\n"; cells(r.stdout) != want {
		t.Fatalf("list:\n%s\nwant:\n%s", cells(r.stdout), want)
	}
	// Describing all groups (none named) and several named groups, one
	// missing: what exists is printed, the missing group is an error.
	wantBoth := "" +
		"GROUP | COORDINATOR (ID) | PROTOCOL-TYPE | ASSIGNMENT-STRATEGY | STATE | #MEMBERS\n" +
		"etl | " + addr + " (1) | consumer | - | Empty | 0\n" +
		"fresh | " + addr + " (1) | - | - | Empty | 0\n" +
		"\n" +
		"GROUP | CONSUMER-ID | GROUP-INSTANCE-ID | HOST | CLIENT-ID | #PARTITIONS | ASSIGNMENT\n" +
		"\n" +
		"GROUP | TOPIC | PARTITION | CURRENT-OFFSET | LOG-END-OFFSET | LAG | CONSUMER-ID | HOST | CLIENT-ID\n" +
		"etl | events | 0 | 1 | 6 | 5 | - | - | -\n" +
		"etl | orders | 0 | 7 | 10 | 3 | - | - | -\n" +
		"etl | orders | 1 | 1 | 4 | 3 | - | - | -\n" +
		"fresh | orders | 1 | 2 | 4 | 2 | - | - | -\n"
	r = mustRunGroups(t, addr, "describe")
	if got := cells(r.stdout); got != wantBoth {
		t.Fatalf("describe (all):\n%s\nwant:\n%s", got, wantBoth)
	}
	r = runGroupsErr(t, addr, `describe group "missing": GROUP_ID_NOT_FOUND`, "describe", "fresh", "missing", "etl")
	if got := cells(r.stdout); got != wantBoth {
		t.Fatalf("describe fresh missing etl:\n%s\nwant:\n%s", got, wantBoth)
	}

	r = mustRunGroups(t, addr, "delete", "fresh", "etl")
	if want := "Deleted group fresh.\nDeleted group etl.\n"; r.stdout != want {
		t.Fatalf("delete output = %q, want %q", r.stdout, want)
	}
	r = mustRunGroups(t, addr, "list")
	if want := "GROUP  STATE  PROTOCOL-TYPE\n"; r.stdout != want {
		t.Fatalf("list after delete:\n%s\nwant:\n%s", r.stdout, want)
	}
	runGroupsErr(t, addr, `delete group "etl": GROUP_ID_NOT_FOUND`, "delete", "etl")
	runGroupsErr(t, addr, `describe group "etl": GROUP_ID_NOT_FOUND`, "describe", "etl")
	runGroupsErr(t, addr, `delete offsets of group "etl": GROUP_ID_NOT_FOUND`, "delete-offsets", "--group", "etl", "--topic", "orders")
	r = mustRunGroups(t, addr, "describe")
	if r.stdout != "No groups.\n" {
		t.Fatalf("describe with no groups = %q", r.stdout)
	}
}

func TestParseResetDatetime(t *testing.T) {
	plus1 := time.FixedZone("", 3600)
	minus0530 := time.FixedZone("", -(5*3600 + 30*60))
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"2026-01-02T15:04:05.123Z", time.Date(2026, 1, 2, 15, 4, 5, 123e6, time.UTC)},
		{"2026-01-02T15:04:05+01:00", time.Date(2026, 1, 2, 15, 4, 5, 0, plus1)},
		{"2026-01-02T15:04:05.5-05:30", time.Date(2026, 1, 2, 15, 4, 5, 500e6, minus0530)},
		{"2026-01-02T15:04:05.000+0100", time.Date(2026, 1, 2, 15, 4, 5, 0, plus1)},
		{"2026-01-02T15:04:05", time.Date(2026, 1, 2, 15, 4, 5, 0, time.Local)},
		{"2026-01-02T15:04:05.250", time.Date(2026, 1, 2, 15, 4, 5, 250e6, time.Local)},
	} {
		got, err := parseResetDatetime(c.in)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseResetDatetime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "2026-01-02", "2026-01-02 15:04:05", "2026-13-02T15:04:05Z", "1767366245000", "2026-01-02T15:04:05+1"} {
		if got, err := parseResetDatetime(bad); err == nil {
			t.Errorf("parseResetDatetime(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseTopicPartitionsSpec(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    topicPartitionsSpec
		wantErr string
	}{
		{in: "orders", want: topicPartitionsSpec{topic: "orders"}},
		{in: "orders:0", want: topicPartitionsSpec{topic: "orders", partitions: []int32{0}}},
		{in: "orders:2, 0,2", want: topicPartitionsSpec{topic: "orders", partitions: []int32{2, 0}}},
		{in: "", wantErr: "want TOPIC or TOPIC:PARTITION"},
		{in: ":1", wantErr: "want TOPIC or TOPIC:PARTITION"},
		{in: "orders:", wantErr: `partition "" is not a non-negative number`},
		{in: "orders:-1", wantErr: `partition "-1" is not a non-negative number`},
		{in: "orders:1,,2", wantErr: `partition "" is not a non-negative number`},
		{in: "orders:99999999999", wantErr: `partition "99999999999" is not a non-negative number`},
	} {
		got, err := parseTopicPartitionsSpec(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("parseTopicPartitionsSpec(%q) err = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got.topic != c.want.topic || !slices.Equal(got.partitions, c.want.partitions) ||
			(got.partitions == nil) != (c.want.partitions == nil) {
			t.Errorf("parseTopicPartitionsSpec(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestClampAndShiftOffset(t *testing.T) {
	for _, c := range []struct {
		o, start, end, want int64
		moved               bool
	}{
		{5, 0, 10, 5, false},
		{0, 0, 10, 0, false},
		{10, 0, 10, 10, false},
		{-1, 0, 10, 0, true},
		{2, 3, 10, 3, true},
		{11, 3, 10, 10, true},
		{math.MaxInt64, 0, 0, 0, true},
	} {
		got, moved := clampOffset(c.o, c.start, c.end)
		if got != c.want || moved != c.moved {
			t.Errorf("clampOffset(%d, %d, %d) = %d, %v; want %d, %v", c.o, c.start, c.end, got, moved, c.want, c.moved)
		}
	}
	for _, c := range []struct{ o, n, want int64 }{
		{5, 3, 8},
		{5, -7, -2},
		{5, math.MaxInt64, math.MaxInt64},
		{-5, math.MinInt64, math.MinInt64},
		{math.MaxInt64 - 1, 1, math.MaxInt64},
	} {
		if got := shiftOffset(c.o, c.n); got != c.want {
			t.Errorf("shiftOffset(%d, %d) = %d, want %d", c.o, c.n, got, c.want)
		}
	}
}

func TestParseGroupStates(t *testing.T) {
	got, err := parseGroupStates([]string{"stable, EMPTY", "Stable", "preparingrebalance"})
	if want := []string{"Stable", "Empty", "PreparingRebalance"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("parseGroupStates = %v, %v; want %v", got, err, want)
	}
	if got, err := parseGroupStates(nil); err != nil || got != nil {
		t.Errorf("parseGroupStates(nil) = %v, %v; want nil, nil", got, err)
	}
	if _, err := parseGroupStates([]string{"Stable,Running"}); err == nil ||
		!strings.Contains(err.Error(), `"Running": unknown group state (valid: Assigning, CompletingRebalance, Dead, Empty, PreparingRebalance, Reconciling, Stable)`) {
		t.Errorf("parseGroupStates(Running) err = %v", err)
	}
}

// TestGroupsDeleteOffsetsOfDeletedTopic checks that deleting a topic takes
// the group's committed offsets of it along (as in Kafka), after which
// delete-offsets says there is nothing to delete.
func TestGroupsDeleteOffsetsOfDeletedTopic(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startGroupsTestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "gone", "--partitions", "3")
	mustRunCLI(t, addr, "a\nb\n", "produce", "gone", "--partition", "2")
	mustRunGroups(t, addr, "reset-offsets", "--group", "g", "--topic", "gone:0,2", "--to-latest", "--execute")
	checkCommitted(t, addr, "g", map[string]string{"gone/0": "0", "gone/2": "2"})
	// Deleting the topic removes its committed offsets, as in Kafka.
	mustRunCLI(t, addr, "", "topics", "delete", "gone")
	checkCommitted(t, addr, "g", map[string]string{})
	runGroupsErr(t, addr, `topic "gone" does not exist and group "g" has no offsets for it`,
		"delete-offsets", "--group", "g", "--topic", "gone")
}

// TestGroupsDescribeIdleMember checks that a member that owns no partition
// is listed in the offsets table with "-" for topic and offsets, and that a
// partition without a commit shows "-" for CURRENT-OFFSET and LAG.
func TestGroupsDescribeIdleMember(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := startGroupsTestBroker(t)
	mustRunCLI(t, addr, "", "topics", "create", "solo", "--partitions", "1")
	mustRunCLI(t, addr, "a\nb\nc\n", "produce", "solo")

	first := startGroupConsumer(t, addr, "pair", "solo", map[int32]int64{0: 3})
	defer first.Close()
	second := startGroupConsumer(t, addr, "pair", "solo", nil)
	defer second.Close()
	stable := regexp.MustCompile(`(?m)^pair .* Stable +2$`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := mustRunGroups(t, addr, "describe", "pair", "--state")
		if stable.MatchString(r.stdout) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group did not become Stable with 2 members:\n%s", r.stdout)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not a fixed wait
	}
	m1, _ := first.GroupMetadata()
	m2, _ := second.GroupMetadata()
	// The range assignor gives the only partition to the lower member id.
	owner, idle := min(m1, m2), max(m1, m2)

	r := mustRunGroups(t, addr, "describe", "pair", "--members", "--offsets")
	want := "" +
		"GROUP | CONSUMER-ID | GROUP-INSTANCE-ID | HOST | CLIENT-ID | #PARTITIONS | ASSIGNMENT\n" +
		"pair | " + owner + " | - | /127.0.0.1 | etl-worker | 1 | solo(0)\n" +
		"pair | " + idle + " | - | /127.0.0.1 | etl-worker | 0 | -\n" +
		"\n" +
		"GROUP | TOPIC | PARTITION | CURRENT-OFFSET | LOG-END-OFFSET | LAG | CONSUMER-ID | HOST | CLIENT-ID\n" +
		"pair | solo | 0 | - | 3 | - | " + owner + " | /127.0.0.1 | etl-worker\n" +
		"pair | - | - | - | - | - | " + idle + " | /127.0.0.1 | etl-worker\n"
	if got := cells(r.stdout); got != want {
		t.Fatalf("describe:\n%s\nwant:\n%s", got, want)
	}
}
