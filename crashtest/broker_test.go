package crashtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	readyTimeout = 20 * time.Second // start of the process -> answers Metadata
	exitTimeout  = 15 * time.Second // signal -> process gone
)

// broker is a samsa process under test, restartable on the same data
// directory and port. Its combined output of every run is kept and logged
// when the test fails.
type broker struct {
	t         *testing.T
	dir       string
	port      int
	overrides []string

	out *syncBuffer // output of all runs, each headed by a marker line

	started bool // a run got ready: clients know the address, keep the port

	cmd     *exec.Cmd
	runs    int
	done    chan struct{} // closed when the current process has exited
	waitErr error         // the exit status, valid once done is closed
	runOut  int           // out.Len() when the current run started
}

// newBroker prepares a broker with a fresh data directory and a free port;
// extra are --override key=value properties. The process is killed (by
// PID) when the test ends if it is still running.
func newBroker(t *testing.T, extra ...string) *broker {
	t.Helper()
	b := &broker{t: t, dir: t.TempDir(), port: freePort(t), overrides: extra, out: &syncBuffer{}}
	t.Cleanup(func() {
		if b.running() {
			_ = b.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-b.done:
			case <-time.After(exitTimeout):
				t.Errorf("broker pid %d did not exit after SIGKILL", b.cmd.Process.Pid)
			}
		}
		if strings.Contains(b.out.String(), "WARNING: DATA RACE") {
			t.Errorf("the broker reported a data race")
		}
		if t.Failed() {
			t.Logf("broker output (all runs):\n%s", b.out.String())
		}
	})
	return b
}

func (b *broker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

func (b *broker) running() bool {
	if b.cmd == nil {
		return false
	}
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// start runs the broker and waits until it answers a Metadata request. A
// run that fails because the port is taken is retried: on a new port the
// first time, on the same port after that (a client's connection may hold
// it briefly, e.g. a self-connect while the broker was down).
func (b *broker) start() {
	b.t.Helper()
	for attempt := 1; ; attempt++ {
		err := b.tryStart()
		if err == nil {
			b.started = true
			return
		}
		if attempt < 5 && errors.Is(err, errAddrInUse) {
			b.t.Logf("broker start attempt %d: %v; retrying", attempt, err)
			if !b.started {
				b.port = freePort(b.t)
			}
			continue
		}
		b.t.Fatalf("broker did not start: %v", err)
	}
}

var errAddrInUse = errors.New("listen address in use")

func (b *broker) tryStart() error {
	if b.running() {
		return fmt.Errorf("broker pid %d is still running", b.cmd.Process.Pid)
	}
	b.runs++
	args := []string{"serve",
		"--override", "listeners=PLAINTEXT://" + b.addr(),
		"--override", "log.dirs=" + b.dir,
	}
	for _, o := range b.overrides {
		args = append(args, "--override", o)
	}
	fmt.Fprintf(b.out, "===== run %d: %s %s\n", b.runs, brokerBin, strings.Join(args, " "))
	b.runOut = b.out.Len()
	cmd := exec.Command(brokerBin, args...)
	cmd.Stdout, cmd.Stderr = b.out, b.out
	// A race-enabled binary otherwise sleeps a second before exiting.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	if err := cmd.Start(); err != nil {
		return err
	}
	b.cmd = cmd
	done := make(chan struct{})
	b.done = done
	go func() {
		err := cmd.Wait()
		b.waitErr = err // published by closing done
		close(done)
	}()
	if err := b.waitReady(); err != nil {
		if b.running() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-b.done
			return err
		}
		if strings.Contains(b.runOutput(), "address already in use") {
			return fmt.Errorf("%w: %v", errAddrInUse, err)
		}
		return err
	}
	return nil
}

// runOutput is the output of the current (or last) run only.
func (b *broker) runOutput() string {
	s := b.out.String()
	if b.runOut > len(s) {
		return ""
	}
	return s[b.runOut:]
}

// waitReady polls with Metadata requests until the broker answers with
// itself as a broker, the process exits, or readyTimeout passes.
func (b *broker) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()), kgo.DialTimeout(time.Second),
		kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(rctx, cl)
		rcancel()
		if err == nil && len(resp.Brokers) > 0 {
			return nil
		}
		if err == nil {
			err = errors.New("metadata response lists no brokers")
		}
		last = err
		select {
		case <-b.done:
			return fmt.Errorf("broker exited during start-up: %v", b.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("broker not ready after %v: %v", readyTimeout, last)
		case <-tick.C:
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (b *broker) kill() {
	b.t.Helper()
	if !b.running() {
		b.t.Fatalf("kill: broker is not running (exit status %v)", b.waitErr)
	}
	fmt.Fprintf(b.out, "===== SIGKILL pid %d\n", b.cmd.Process.Pid)
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		b.t.Fatalf("SIGKILL pid %d: %v", b.cmd.Process.Pid, err)
	}
	select {
	case <-b.done:
	case <-time.After(exitTimeout):
		b.t.Fatalf("broker pid %d still running %v after SIGKILL", b.cmd.Process.Pid, exitTimeout)
	}
}

// terminate sends SIGTERM and returns how long the process took to exit
// and its exit status, failing the test if it takes longer than
// exitTimeout.
func (b *broker) terminate() (time.Duration, error) {
	b.t.Helper()
	if !b.running() {
		b.t.Fatalf("terminate: broker is not running (exit status %v)", b.waitErr)
	}
	fmt.Fprintf(b.out, "===== SIGTERM pid %d\n", b.cmd.Process.Pid)
	start := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.t.Fatalf("SIGTERM pid %d: %v", b.cmd.Process.Pid, err)
	}
	select {
	case <-b.done:
		return time.Since(start), b.waitErr
	case <-time.After(exitTimeout):
		b.t.Fatalf("broker pid %d still running %v after SIGTERM", b.cmd.Process.Pid, exitTimeout)
		return 0, nil
	}
}

// freePort picks a port that is free now. It prefers ports below the usual
// ephemeral range (32768-60999 on Linux) so that clients reconnecting while
// the broker is down cannot be given it as their own local port; it falls
// back to a kernel-chosen port.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			ln.Close()
			return p
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Len()
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
