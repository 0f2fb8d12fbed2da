package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// staticMember is a franz-go consumer with a group instance ID (KIP-345)
// that counts the revocations it is told of.
type staticMember struct {
	cl      *kgo.Client
	mu      sync.Mutex
	revoked int
	owned   int
}

func startStaticMember(t *testing.T, tb *testBroker, group, topic, instance string) *staticMember {
	t.Helper()
	m := &staticMember{}
	m.cl = tb.client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.InstanceID(instance),
		kgo.SessionTimeout(20*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			m.owned += len(a[topic])
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			m.revoked += len(r[topic])
			m.owned -= len(r[topic])
			m.mu.Unlock()
		}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // polls only to drive the client
		for ctx.Err() == nil {
			if m.cl.PollFetches(ctx).IsClientClosed() {
				return // the member was stopped (restarted as a new client)
			}
		}
	}()
	t.Cleanup(cancel)
	return m
}

func (m *staticMember) counts() (owned, revoked int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owned, m.revoked
}

// TestStaticMemberRestartKeepsGroupStable: in a rolling restart of a group
// of static members (KIP-345), each member that comes back with its
// instance ID takes its old place without a rebalance, whether or not it
// led the group, as with Kafka: the other member is never told to revoke
// its partitions and stays in the same generation, and the restarted one
// gets its partitions back. (franz-go sends JoinGroup v9, under which a
// restarted leader is told to skip assignment, KIP-814; this test sees that
// only as the absence of a rebalance.)
func TestStaticMemberRestartKeepsGroupStable(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"group.initial.rebalance.delay.ms": "0"})
	tb.createTopic("st", 4, nil)
	members := []*staticMember{
		startStaticMember(t, tb, "sg", "st", "a"),
		startStaticMember(t, tb, "sg", "st", "b"),
	}
	settled := func(what string) int32 {
		t.Helper()
		var gen int32
		waitUntil(t, 20*time.Second, what, func() error {
			total := 0
			gens := map[int32]bool{}
			for _, m := range members {
				owned, _ := m.counts()
				total += owned
				_, g := m.cl.GroupMetadata()
				gens[g] = true
				gen = g
			}
			if total != 4 || len(gens) != 1 {
				return fmt.Errorf("%d of 4 partitions owned, generations %v", total, gens)
			}
			return nil
		})
		return gen
	}
	gen := settled("both members to share the 4 partitions")
	for i, instance := range []string{"a", "b"} { // one of them leads the group
		other := members[1-i]
		_, revokedBefore := other.counts()
		members[i].cl.Close() // a static member leaves no LeaveGroup behind
		members[i] = startStaticMember(t, tb, "sg", "st", instance)
		if g := settled("the restarted member " + instance + " to get its partitions back"); g != gen {
			t.Fatalf("restarting %s moved the group from generation %d to %d", instance, gen, g)
		}
		if _, revoked := other.counts(); revoked != revokedBefore {
			t.Fatalf("restarting %s made the other member revoke %d partitions", instance, revoked-revokedBefore)
		}
	}
	for _, m := range members {
		m.cl.Close()
	}
}
