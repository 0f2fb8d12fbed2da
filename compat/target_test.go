package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	targetSamsa = "samsa"
	targetKfake = "kfake"

	// defaultTarget is the broker the matrix runs against when
	// COMPAT_TARGET is not set.
	defaultTarget = targetSamsa
)

// env is the running target broker, shared by all cells.
type env struct {
	target string
	addr   string             // host:port of the only broker
	apis   map[int16][2]int16 // key → min, max version
	logf   string             // the broker's combined stdout+stderr
	admin  *kadm.Client
	kcl    *kgo.Client

	exited  chan struct{}
	mu      sync.Mutex
	waitErr error
}

func (e *env) alive() bool {
	select {
	case <-e.exited:
		return false
	default:
		return true
	}
}

func (e *env) exitInfo() string {
	e.mu.Lock()
	err := e.waitErr
	e.mu.Unlock()
	return fmt.Sprintf("%v; log tail: %s", err, tailFile(e.logf, 1500))
}

// startTarget builds and starts the broker chosen by COMPAT_TARGET, waits
// until it answers ApiVersions and records what it advertises. The broker is
// stopped when the test ends.
func startTarget(t *testing.T) *env {
	t.Helper()
	target := os.Getenv("COMPAT_TARGET")
	if target == "" {
		target = defaultTarget
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", target)
	var build *exec.Cmd
	switch target {
	case targetSamsa:
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		build = exec.Command("go", "build", "-o", bin, "./cmd/samsa")
		build.Dir = root
	case targetKfake:
		build = exec.Command("go", "build", "-o", bin, "./cmd/kfakebroker")
	default:
		t.Fatalf("COMPAT_TARGET=%q: want %s or %s", target, targetSamsa, targetKfake)
	}
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", target, err, out)
	}

	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var cmd *exec.Cmd
	if target == targetSamsa {
		dataDir := filepath.Join(dir, "data")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(bin, "serve",
			"--override", "listeners=PLAINTEXT://"+addr,
			"--override", "log.dirs="+dataDir,
			// The compacted-read scenario waits for the cleaner, which
			// looks for work every 15 s by default.
			"--override", "log.cleaner.backoff.ms=200")
	} else {
		cmd = exec.Command(bin, "-port", strconv.Itoa(port))
	}
	logf := filepath.Join(dir, "broker.log")
	lf, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", target, err)
	}
	e := &env{target: target, addr: addr, logf: logf, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		e.mu.Lock()
		e.waitErr = err
		e.mu.Unlock()
		lf.Close()
		close(e.exited)
	}()
	t.Cleanup(func() {
		if !e.alive() {
			t.Errorf("broker exited during the run: %s", e.exitInfo())
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("broker did not stop within 10s of SIGTERM; killing it")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-e.exited
		}
	})

	kcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	e.kcl = kcl
	e.admin = kadm.NewClient(kcl)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apis, err := waitReady(ctx, e)
	if err != nil {
		t.Fatalf("%s broker at %s did not become ready: %v\nlog: %s", target, addr, err, tailFile(logf, 3000))
	}
	e.apis = apis
	t.Logf("%s broker at %s advertises %s", target, addr, describeAPIs(apis))
	return e
}

// waitReady polls the broker with ApiVersions until it answers, the broker
// process exits, or ctx ends.
func waitReady(ctx context.Context, e *env) (map[int16][2]int16, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		apis, err := probeAPIs(actx, e.addr)
		cancel()
		if err == nil {
			return apis, nil
		}
		lastErr = err
		select {
		case <-e.exited:
			return nil, fmt.Errorf("broker process exited: %s", e.exitInfo())
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// probeAPIs asks the broker for its ApiVersions over a fresh connection.
func probeAPIs(ctx context.Context, addr string) (map[int16][2]int16, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "samsa-compat"
	req.ClientSoftwareVersion = "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	apis := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		apis[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	if len(apis) == 0 {
		return nil, errors.New("ApiVersions response lists no APIs")
	}
	return apis, nil
}

func describeAPIs(apis map[int16][2]int16) string {
	keys := make([]int, 0, len(apis))
	for k := range apis {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		v := apis[int16(k)]
		parts = append(parts, fmt.Sprintf("%s(%d) v%d-%d", apiName(int16(k)), k, v[0], v[1]))
	}
	return strings.Join(parts, " ")
}

func apiName(k int16) string {
	if r := kmsg.RequestForKey(k); r != nil {
		return kmsg.NameForKey(k)
	}
	return "Unknown"
}

// coreAPIs are the APIs without which no client can produce or consume.
// They are never "not yet": a broker that lacks them fails the cells.
var coreAPIs = []int16{
	kmsg.Produce.Int16(), kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16(),
	kmsg.Metadata.Int16(), kmsg.ApiVersions.Int16(),
}

// need returns errNotYet when the broker does not advertise one of keys
// (other than the core APIs, whose absence is a failure).
func (e *env) need(keys ...int16) error {
	var missing, missingCore []string
	seen := map[int16]bool{}
	for _, k := range keys {
		if _, ok := e.apis[k]; ok || seen[k] {
			continue
		}
		seen[k] = true
		n := apiName(k)
		isCore := false
		for _, c := range coreAPIs {
			isCore = isCore || c == k
		}
		if isCore {
			missingCore = append(missingCore, n)
		} else {
			missing = append(missing, n)
		}
	}
	if len(missingCore) > 0 {
		return fmt.Errorf("broker does not advertise core APIs %s", strings.Join(missingCore, ", "))
	}
	if len(missing) > 0 {
		return errNotYet{missing: missing}
	}
	return nil
}

// createTopic makes a topic for a scenario with franz-go: CreateTopics when
// the broker has it, otherwise auto-creation through Metadata. It waits until
// the topic's partitions all have a leader and returns how many there are.
func (e *env) createTopic(ctx context.Context, topic string, partitions int32) (int32, error) {
	return e.createTopicWith(ctx, topic, partitions, nil)
}

// createTopicWith creates topic with topic configs (CreateTopics only).
func (e *env) createTopicWith(ctx context.Context, topic string, partitions int32, configs map[string]*string) (int32, error) {
	if _, ok := e.apis[kmsg.CreateTopics.Int16()]; ok {
		resp, err := e.admin.CreateTopic(ctx, partitions, 1, configs, topic)
		if err != nil {
			return 0, fmt.Errorf("create topic %s with franz-go: %w", topic, err)
		}
		if resp.Err != nil {
			return 0, fmt.Errorf("create topic %s with franz-go: %w (%s)", topic, resp.Err, resp.ErrMessage)
		}
	} else if configs != nil {
		return 0, fmt.Errorf("create topic %s with configs: the broker has no CreateTopics", topic)
	} else {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		req.AllowAutoTopicCreation = true
		if _, err := req.RequestWith(ctx, e.kcl); err != nil {
			return 0, fmt.Errorf("auto-create topic %s (broker has no CreateTopics): %w", topic, err)
		}
	}
	return e.waitTopic(ctx, topic)
}

// waitTopic waits until franz-go's metadata shows topic with every partition
// led, and returns its partition count.
func (e *env) waitTopic(ctx context.Context, topic string) (int32, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		md, err := e.admin.Metadata(ctx, topic)
		if err == nil {
			td, ok := md.Topics[topic]
			switch {
			case !ok:
				err = errors.New("not in metadata")
			case td.Err != nil:
				err = td.Err
			case len(td.Partitions) == 0:
				err = errors.New("no partitions")
			default:
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return int32(len(td.Partitions)), nil
				}
				err = errors.New("partitions without leader")
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic %s not ready: %v", topic, last)
		case <-tick.C:
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return string(b)
}
