package bench

import (
	"context"
	"time"
)

// Clock is the time source of the rate limiter and progress reporter, so that
// tests can drive them without sleeping.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d or for ctx.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limiter paces a stream of events to a fixed rate. Event k (counting from 0)
// is due at start + k/rate; Wait blocks until the next event is due. Because
// the schedule is absolute, a sender that fell behind (a slow Produce call)
// catches up in a burst instead of losing throughput, which is what a
// fixed-rate load generator should do. A rate of 0 or less means unlimited.
type Limiter struct {
	clock Clock
	rate  float64
	start time.Time
	sent  int64
}

// NewLimiter returns a limiter for rate events per second whose schedule
// starts at the first Wait.
func NewLimiter(clock Clock, rate float64) *Limiter {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Limiter{clock: clock, rate: rate}
}

// minSleep is the shortest sleep worth taking; below it timers are too
// coarse and we let a few events through early instead (they are at most
// minSleep ahead of schedule).
const minSleep = 200 * time.Microsecond

// Wait blocks until the next event is due and counts it, and returns the
// clock's time when it let the event through (so that a caller stamping
// events needs no clock read of its own). It returns early only with ctx's
// error.
func (l *Limiter) Wait(ctx context.Context) (time.Time, error) {
	now := l.clock.Now()
	if l.rate <= 0 {
		return now, ctx.Err()
	}
	if l.sent == 0 {
		l.start = now
	}
	due := l.dueAt(l.sent)
	if d := due.Sub(now); d >= minSleep {
		if err := l.clock.Sleep(ctx, d); err != nil {
			return now, err
		}
		now = l.clock.Now()
	}
	l.sent++
	return now, nil
}

// Take is Wait for a sender of batches that stamps each event with its due
// time: it blocks until the next event is due (no earlier), then counts
// every event due by then, at most limit (and at least one), and returns
// how many and when the first was due; event i of them was due at
// first + i/rate. The rate must be above 0.
func (l *Limiter) Take(ctx context.Context, limit int64) (int64, time.Time, error) {
	now := l.clock.Now()
	if l.sent == 0 {
		l.start = now
	}
	first := l.dueAt(l.sent)
	if d := first.Sub(now); d > 0 {
		if err := l.clock.Sleep(ctx, d); err != nil {
			return 0, first, err
		}
		now = l.clock.Now()
	}
	// Event k is due by now when k <= (now-start)*rate.
	n := int64(float64(now.Sub(l.start))*l.rate/float64(time.Second)) + 1 - l.sent
	n = min(max(n, 1), limit)
	l.sent += n
	return n, first, nil
}

// dueAt is when event k is due.
func (l *Limiter) dueAt(k int64) time.Time {
	return l.start.Add(time.Duration(float64(k) / l.rate * float64(time.Second)))
}

// Sent is how many events Wait or Take has let through.
func (l *Limiter) Sent() int64 { return l.sent }
