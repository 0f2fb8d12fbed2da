// Package crashtest checks that a samsa broker keeps its durability promises
// when its process dies: it runs the real binary as a child process, kills it
// with SIGKILL (or stops it with SIGTERM) while franz-go producers are
// writing, damages segment tails the way a torn write would, restarts it on
// the same data directory and port, and reads every partition back over the
// wire to compare with what the broker acknowledged.
//
// The package holds tests only. TestMain builds cmd/samsa once into a
// temporary directory, with the race detector when the tests themselves run
// with -race (SAMSA_CRASHTEST_RACE_BROKER=0 or 1 overrides that); a data
// race reported by the broker fails the test that ran it.
package crashtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// brokerBin is the samsa binary built by TestMain.
var brokerBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "samsa-crashtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	brokerBin = filepath.Join(tmp, "samsa")
	if err := buildBroker(brokerBin); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: building the broker:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "crashtest: goroutines leaked:", err)
			return 1
		}
	}
	return code
}

// buildBroker runs `go build -o out ./cmd/samsa` in the module root.
func buildBroker(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		if root, err = filepath.Abs(".."); err != nil {
			return err
		}
	}
	args := []string{"build", "-o", out}
	race := raceEnabled
	switch os.Getenv("SAMSA_CRASHTEST_RACE_BROKER") {
	case "0":
		race = false
	case "1":
		race = true
	}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/samsa")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s in %s: %w\n%s", strings.Join(cmd.Args, " "), root, err, outBuf.String())
	}
	return nil
}
