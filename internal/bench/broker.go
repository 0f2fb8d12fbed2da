package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BrokerSpec says how to start a broker for a bench run.
type BrokerSpec struct {
	// Command, if set, is run with sh -c after replacing {port}, {addr}
	// (127.0.0.1:port) and {dir} (a fresh data directory). If empty, the
	// bench starts `serve` of the running executable (samsa itself).
	Command string
	// Fsync, for samsa only: true leaves the default (fsync before ack);
	// false leaves flushing to the OS.
	Fsync bool
	// DataDirBase is where the temporary data directory is made
	// (default: the system's temp dir).
	DataDirBase string
	// KeepData keeps the data directory and broker log after the run.
	KeepData bool
	// ReadyTimeout bounds the wait for the broker to answer (default 60s).
	ReadyTimeout time.Duration
}

// Broker is a broker process the bench started.
type Broker struct {
	Addr    string
	Command string
	Dir     string
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	keep    bool
}

// noFlushInterval is Kafka's log.flush.interval.messages value that never
// forces a flush by count: flushing is left to the OS.
const noFlushInterval = "9223372036854775807"

// StartBroker starts the broker described by spec on a free port and waits
// until it answers ApiVersions.
func StartBroker(ctx context.Context, spec BrokerSpec) (*Broker, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(spec.DataDirBase, "samsa-bench-broker-")
	if err != nil {
		return nil, err
	}
	b := &Broker{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Dir:     dir,
		LogPath: filepath.Join(dir, "broker.log"),
		exited:  make(chan struct{}),
		keep:    spec.KeepData,
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		b.cleanup(false)
		return nil, err
	}
	var cmd *exec.Cmd
	if spec.Command == "" {
		exe, err := os.Executable()
		if err != nil {
			b.cleanup(false)
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		args := []string{"serve",
			"--override", "listeners=PLAINTEXT://" + b.Addr,
			"--override", "log.dirs=" + dataDir,
		}
		if !spec.Fsync {
			args = append(args, "--override", "log.flush.interval.messages="+noFlushInterval)
		}
		cmd = exec.Command(exe, args...)
		b.Command = exe + " " + strings.Join(args, " ")
	} else {
		line := strings.NewReplacer("{port}", strconv.Itoa(port), "{addr}", b.Addr, "{dir}", dataDir).Replace(spec.Command)
		// exec, so that the PID we measure is the broker's, not the shell's.
		cmd = exec.Command("/bin/sh", "-c", "exec "+line)
		b.Command = line
	}
	logf, err := os.Create(b.LogPath)
	if err != nil {
		b.cleanup(false)
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The broker gets its own process group, so that Stop also ends what a
	// wrapper command started (and a terminal's Ctrl-C reaches only the
	// bench, which then stops the broker itself); if the bench dies, the
	// broker goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		b.cleanup(false)
		return nil, fmt.Errorf("start broker %q: %w", b.Command, err)
	}
	b.cmd = cmd
	go func() {
		b.waitErr = cmd.Wait()
		logf.Close()
		close(b.exited)
	}()

	timeout := spec.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if err := b.waitReady(ctx, timeout); err != nil {
		tail := b.logTail(20)
		_ = b.Stop()
		return nil, fmt.Errorf("broker %q not ready: %w\n%s", b.Command, err, tail)
	}
	return b, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (b *Broker) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-b.exited:
			return fmt.Errorf("broker exited: %v", b.waitErr)
		default:
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DialTimeout(time.Second))
		if err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr = cl.Ping(pctx)
		cancel()
		cl.Close()
		if lastErr == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := (SystemClock{}).Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("no answer within %v: %w", timeout, lastErr)
}

func (b *Broker) logTail(n int) string {
	data, err := os.ReadFile(b.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "broker log (" + b.LogPath + "):\n" + strings.Join(lines, "\n")
}

// PID is the broker's process ID.
func (b *Broker) PID() int { return b.cmd.Process.Pid }

// Stats reads the broker's CPU time and peak RSS from /proc.
func (b *Broker) Stats() (ProcStats, error) { return ReadProcStats(b.PID()) }

// Stop ends the broker: SIGTERM to its process group, then SIGKILL after 10
// seconds; whatever is left of the group once the broker has exited is
// killed too. It removes the data directory unless the spec asked to keep
// it.
func (b *Broker) Stop() error {
	if b.cmd == nil {
		return nil
	}
	pgid := b.cmd.Process.Pid // Setpgid: the group is named after the broker
	select {
	case <-b.exited:
	default:
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-b.exited
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // leftovers of a wrapper; ESRCH if none
	b.cleanup(b.keep)
	return nil
}

func (b *Broker) cleanup(keep bool) {
	if !keep && b.Dir != "" {
		_ = os.RemoveAll(b.Dir)
	}
}

// ProcStats is what Linux's /proc says about a process.
type ProcStats struct {
	CPUSeconds   float64 // user + system
	PeakRSSBytes int64   // VmHWM
	RSSBytes     int64   // VmRSS
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports (the kernel's ABI fixes it,
// whatever HZ the kernel runs at).
const clockTicks = 100

// ReadProcStats reads /proc/PID/stat and /proc/PID/status.
func ReadProcStats(pid int) (ProcStats, error) {
	var st ProcStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	cpu, err := parseProcStatCPU(stat)
	if err != nil {
		return st, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	st.CPUSeconds = cpu
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	st.PeakRSSBytes, st.RSSBytes, err = parseProcStatus(status)
	if err != nil {
		return st, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return st, nil
}

// parseProcStatCPU returns utime+stime in seconds from the contents of
// /proc/PID/stat. The second field (the command name, in parentheses) may
// hold spaces and parentheses itself, so we split after its last ')'.
func parseProcStatCPU(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// After the name: state(3) ppid(4) ... utime(14) stime(15); f[0] is
	// field 3.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the name, want at least 13", len(f))
	}
	ut, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return float64(ut+stime) / clockTicks, nil
}

// parseProcStatus returns VmHWM and VmRSS in bytes from /proc/PID/status.
func parseProcStatus(status []byte) (hwm, rss int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	found := 0
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", k, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", k, err)
		}
		if k == "VmHWM" {
			hwm = n << 10
		} else {
			rss = n << 10
		}
		found++
	}
	if found < 2 {
		return 0, 0, errors.New("no VmHWM/VmRSS lines")
	}
	return hwm, rss, nil
}
