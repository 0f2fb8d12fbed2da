package compat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runCmd runs an external client process with stdin and returns its stdout.
// The process (and its process group) is killed when ctx ends, so a hanging
// client fails its cell instead of the suite. A non-zero exit is an error
// carrying the tail of stderr.
func runCmd(ctx context.Context, dir string, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	configureKill(cmd)
	err := cmd.Run()
	if ctx.Err() != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: killed: %v; stderr: %s", name, shortArgs(args), ctx.Err(), tail(stderr.String()))
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %v; stderr: %s", name, shortArgs(args), err, tail(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// configureKill makes cancellation kill the whole process group, and bounds
// how long Wait waits for output pipes after that.
func configureKill(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 3 * time.Second
}

func shortArgs(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 1500 {
		s = "…" + s[len(s)-1500:]
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// moduleVersion returns the version of a module required by compat/go.mod,
// which is the version the suite is built with.
func moduleVersion(path string) string {
	f, err := os.Open("go.mod")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fs) >= 2 && fs[0] == path {
			return fs[1]
		}
	}
	return "unknown"
}
