package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock advances only when the code under test sleeps (or the test moves
// it), so the limiter's schedule can be checked exactly.
type fakeClock struct {
	now    time.Time
	sleeps int
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps++
	c.now = c.now.Add(d)
	return nil
}

func TestLimiterKeepsSchedule(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	start := clock.now
	const rate = 1000.0
	l := NewLimiter(clock, rate)
	ctx := context.Background()
	for k := 0; k <= 5000; k++ {
		at, err := l.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !at.Equal(clock.now) {
			t.Fatalf("event %d let through at %v, clock says %v", k, at, clock.now)
		}
		due := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
		// Never early by more than minSleep, never late (nothing else takes time).
		if early := due.Sub(clock.now); early >= minSleep || early < -time.Microsecond {
			t.Fatalf("event %d at %v, due %v", k, clock.now.Sub(start), due.Sub(start))
		}
	}
	if got := clock.now.Sub(start); got < 5*time.Second-minSleep || got > 5*time.Second {
		t.Fatalf("5001 events at 1000/s took %v, want 5s", got)
	}
	if l.Sent() != 5001 {
		t.Fatalf("Sent = %d", l.Sent())
	}
}

func TestLimiterCatchesUpAfterStall(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	l := NewLimiter(clock, 100) // one event per 10ms
	ctx := context.Background()
	if _, err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The sender stalls for a second: the next 100 events are overdue and
	// must go through without sleeping.
	clock.now = clock.now.Add(time.Second)
	before := clock.sleeps
	for i := 0; i < 100; i++ {
		if _, err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if clock.sleeps != before {
		t.Fatalf("slept %d times while catching up", clock.sleeps-before)
	}
	// Then the schedule resumes at 10ms per event.
	if _, err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if clock.sleeps != before+1 || clock.now.Sub(time.Unix(0, 0)) != 1010*time.Millisecond {
		t.Fatalf("after catching up: %d sleeps, now %v", clock.sleeps-before, clock.now.Sub(time.Unix(0, 0)))
	}
}

func TestLimiterUnlimitedAndCancel(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	l := NewLimiter(clock, 0)
	for i := 0; i < 1000; i++ {
		if _, err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if clock.sleeps != 0 {
		t.Fatalf("unlimited limiter slept %d times", clock.sleeps)
	}

	ctx, cancel := context.WithCancel(context.Background())
	l = NewLimiter(clock, 10)
	if _, err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v", err)
	}
	if l.Sent() != 1 {
		t.Fatalf("cancelled Wait counted: Sent = %d", l.Sent())
	}
}

func TestSystemClockSleepCancels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (SystemClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v", err)
	}
}

// TestLimiterTake checks that Take hands out exactly the events due, with
// the due time of the first, and waits only when none is.
func TestLimiterTake(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	start := clock.now
	l := NewLimiter(clock, 1000) // one event per ms
	ctx := context.Background()
	ms := func(k int64) time.Time { return start.Add(time.Duration(k) * time.Millisecond) }
	take := func(limit, wantN int64, wantFirst time.Time) {
		t.Helper()
		n, first, err := l.Take(ctx, limit)
		if err != nil || n != wantN || !first.Equal(wantFirst) {
			t.Fatalf("Take(%d) at %v = %d, first due %v, %v; want %d, %v",
				limit, clock.now.Sub(start), n, first.Sub(start), err, wantN, wantFirst.Sub(start))
		}
	}
	take(10, 1, ms(0))  // event 0, due at once
	clock.now = ms(5)   // events 1-5 fall due meanwhile
	take(10, 5, ms(1))  // all of them
	clock.now = ms(9)   // 6-9
	take(3, 3, ms(6))   // at most the limit
	take(10, 1, ms(9))  // 9, left over
	take(10, 1, ms(10)) // nothing due: sleeps until 10
	if !clock.now.Equal(ms(10)) || clock.sleeps != 1 || l.Sent() != 11 {
		t.Fatalf("clock at %v after %d sleeps, %d sent", clock.now.Sub(start), clock.sleeps, l.Sent())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := l.Take(cctx, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Take with a cancelled context waiting: %v", err)
	}
}
