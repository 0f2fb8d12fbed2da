package crashtest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// cleanShutdownMarker is the file a broker leaves in its data directory
// after a clean shutdown, so the next start can skip recovery.
const cleanShutdownMarker = ".samsa_cleanshutdown"

// TestCleanShutdownRestart stops the broker with SIGTERM: it must exit 0
// within exitTimeout and leave the clean-shutdown marker; the restart must
// take the clean path (no recovery scan), remove the marker at once (so a
// later crash is recovered), and serve byte-identical data. An idempotent
// producer that lives through the restart continues its sequences, and a
// SIGKILL after the clean restart still loses nothing.
func TestCleanShutdownRestart(t *testing.T) {
	const (
		topic = "clean"
		parts = int32(3)
	)
	b := newBroker(t)
	b.start()
	createTopic(t, b.addr(), topic, parts, map[string]*string{"segment.bytes": ptr("4096")})
	marker := filepath.Join(b.dir, cleanShutdownMarker)
	valid := func(v string) bool { return strings.HasPrefix(v, "clean-") }

	cl := newClient(t, b.addr(), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var acks []ack
	produce := func(from, to int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "clean-%05d", i)})
		}
		for _, res := range cl.ProduceSync(ctx, rs...) {
			if res.Err != nil {
				t.Fatalf("produce %s: %v", res.Record.Value, res.Err)
			}
			acks = append(acks, ack{partition: res.Record.Partition, offset: res.Record.Offset, value: string(res.Record.Value)})
		}
	}
	produce(0, 600)
	before := readLog(t, b.addr(), topic, parts)
	checkAcked(t, before, acks, valid)
	if fileExists(marker) {
		t.Errorf("%s exists while the broker runs", cleanShutdownMarker)
	}

	took, err := b.terminate()
	if err != nil {
		t.Errorf("after SIGTERM the broker exited with %v, expected status 0", err)
	}
	t.Logf("SIGTERM -> exit took %v", took.Round(time.Millisecond))
	if !fileExists(marker) {
		t.Errorf("no %s in the data directory after a clean shutdown", cleanShutdownMarker)
	}

	start := time.Now()
	b.start()
	t.Logf("restart after clean shutdown took %v", time.Since(start).Round(time.Millisecond))
	out := b.runOutput()
	if !strings.Contains(out, "clean_shutdown=true") {
		t.Errorf("the restart did not report a clean shutdown (no clean_shutdown=true in its log)")
	}
	if strings.Contains(out, "truncating") || strings.Contains(out, "rebuilding") || strings.Contains(out, "deleting segment") {
		t.Errorf("the restart after a clean shutdown repaired the log; its output:\n%s", out)
	}
	if fileExists(marker) {
		t.Errorf("%s is still there after the restart: a crash now would skip recovery", cleanShutdownMarker)
	}
	after := readLog(t, b.addr(), topic, parts)
	if err := equalLogs(before, after); err != nil {
		t.Errorf("the log changed across a clean restart: %v", err)
	}

	// The same producer client continues: the broker restored its
	// sequence numbers, so the new records are accepted in order.
	produce(600, 900)
	for p, pl := range before {
		first := int64(-1)
		for _, a := range acks[600:] {
			if a.partition == int32(p) && (first < 0 || a.offset < first) {
				first = a.offset
			}
		}
		if first != pl.hwm {
			t.Errorf("partition %d: first record after the restart got offset %d, expected %d", p, first, pl.hwm)
		}
	}

	// A crash after the clean restart is recovered like any other.
	b.kill()
	b.start()
	if !strings.Contains(b.runOutput(), "clean_shutdown=false") {
		t.Errorf("the start after SIGKILL did not report an unclean shutdown (no clean_shutdown=false in its log)")
	}
	final := readLog(t, b.addr(), topic, parts)
	checkAcked(t, final, acks, valid)
	total := 0
	for _, pl := range final {
		total += len(pl.records())
	}
	if total != len(acks) {
		t.Errorf("the log holds %d records, %d were produced and acknowledged", total, len(acks))
	}
}

// TestShutdownEndsLongPolls stops a broker while a fetch long-polls with a
// two-minute max wait and a JoinGroup waits for a member that will not
// rejoin (two-minute rebalance timeout). SIGTERM must end both waits at
// once rather than let them hold the shutdown until its 30 s limit: the
// broker exits within exitTimeout (15 s), says nothing of connections that
// did not finish, and the fetch gets its (empty) answer.
func TestShutdownEndsLongPolls(t *testing.T) {
	const topic, group = "polls", "polls-group"
	b := newBroker(t, "group.initial.rebalance.delay.ms=0")
	b.start()
	createTopic(t, b.addr(), topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Fetch v12 names the topic (v13 would need its ID): pin the version,
	// as kgo otherwise sends the newest both sides support.
	fetcher := newClient(t, b.addr(), kgo.MaxVersions(kversion.V3_0_0()))
	fetched := make(chan error, 1)
	go func() {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 120_000, 1, 1<<20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		resp, err := req.RequestWith(ctx, fetcher)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1) {
			err = fmt.Errorf("fetch answered %d topics, want 1 with 1 partition", len(resp.Topics))
		}
		if err == nil {
			p := resp.Topics[0].Partitions[0]
			if err = kerr.ErrorForCode(p.ErrorCode); err == nil && len(p.RecordBatches) != 0 {
				err = fmt.Errorf("fetch of an empty partition returned %d bytes", len(p.RecordBatches))
			}
		}
		fetched <- err
	}()

	// Member a forms generation 1; member b's join then waits for a to
	// rejoin, which it never does.
	var join func(cl *kgo.Client, memberID string) (*kmsg.JoinGroupResponse, error)
	join = func(cl *kgo.Client, memberID string) (*kmsg.JoinGroupResponse, error) {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.ProtocolType = group, memberID, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 60_000, 120_000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 0}
		req.Protocols = append(req.Protocols, p)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, err
		}
		if resp.ErrorCode == kerr.MemberIDRequired.Code {
			return join(cl, resp.MemberID)
		}
		return resp, kerr.ErrorForCode(resp.ErrorCode)
	}
	if _, err := join(newClient(t, b.addr()), ""); err != nil {
		t.Fatalf("first member's join: %v", err)
	}
	joined := make(chan error, 1)
	go func() {
		_, err := join(newClient(t, b.addr(), kgo.RequestRetries(0)), "")
		joined <- err
	}()
	admin := newClient(t, b.addr())
	waitCond(t, 10*time.Second, "the second member's join to wait", func() error {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, admin)
		if err != nil {
			return err
		}
		if g := resp.Groups[0]; g.State != "PreparingRebalance" || len(g.Members) != 2 {
			return fmt.Errorf("group %s has %d members", g.State, len(g.Members))
		}
		return nil
	})
	select {
	case err := <-fetched:
		t.Fatalf("the fetch returned before its max wait and before the shutdown: %v", err)
	default:
	}

	took, err := b.terminate()
	if err != nil {
		t.Errorf("after SIGTERM the broker exited with %v, expected status 0", err)
	}
	t.Logf("SIGTERM -> exit took %v", took.Round(time.Millisecond))
	if out := b.runOutput(); strings.Contains(out, "did not finish in time") {
		t.Errorf("the shutdown waited for its time limit:\n%s", tail(out, 20))
	}
	select {
	case err := <-fetched:
		if err != nil {
			t.Errorf("the long-polling fetch did not get its answer: %v", err)
		}
	case <-ctx.Done():
		t.Error("the long-polling fetch never returned")
	}
	select {
	case err := <-joined:
		// What Kafka answers the joins of a group it unloads.
		if !errors.Is(err, kerr.NotCoordinator) {
			t.Errorf("the waiting join ended with %v, want NOT_COORDINATOR", err)
		}
	case <-ctx.Done():
		t.Error("the waiting join never returned")
	}
}
