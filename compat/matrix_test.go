package compat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	flagMatrix = flag.String("matrix", "", "where to write the matrix (default: MATRIX.md for target samsa, out/MATRIX.<target>.md otherwise)")
	flagCellTO = flag.Duration("cell-timeout", 45*time.Second, "time limit of one matrix cell")
)

// status is the outcome of one matrix cell.
type status int

const (
	statusPass status = iota
	statusFail
	statusNA
	statusNotYet
)

func (s status) String() string {
	switch s {
	case statusPass:
		return "pass"
	case statusFail:
		return "FAIL"
	case statusNA:
		return "n/a"
	default:
		return "broker: not yet"
	}
}

// cell is one client × scenario result. detail says why for anything but a
// plain pass, and carries notes for passes with caveats.
type cell struct {
	status status
	detail string
	took   time.Duration
}

// errNA marks a scenario the client cannot express; errNotYet one whose APIs
// the broker does not advertise.
type errNA struct{ reason string }

func (e errNA) Error() string { return "n/a: " + e.reason }

type errNotYet struct {
	missing []string
	why     string // why the client needs them, when it is not obvious
}

func (e errNotYet) Error() string {
	s := "broker does not advertise " + strings.Join(e.missing, ", ")
	if e.why != "" {
		s += ": " + e.why
	}
	return s
}

// scenario is one column of the matrix.
type scenario struct {
	id    string // column key, also part of topic names
	title string // column header
	run   func(ctx context.Context, e *env, c *client) (note string, err error)
}

func scenarios() []scenario {
	s := []scenario{{id: "admin", title: "admin: create topic", run: scenarioAdmin}}
	for _, cd := range allCodecs {
		cd := cd
		s = append(s, scenario{
			id:    "produce-" + cd.name,
			title: "produce " + cd.name,
			run: func(ctx context.Context, e *env, c *client) (string, error) {
				return scenarioProduce(ctx, e, c, cd)
			},
		})
	}
	return append(s,
		scenario{id: "consume", title: "consume (start, offset)", run: scenarioConsume},
		scenario{id: "compacted", title: "consume compacted", run: scenarioCompacted},
		scenario{id: "idempotent", title: "idempotent produce", run: scenarioIdempotent},
		scenario{id: "group", title: "group commit + resume", run: scenarioGroup},
		scenario{id: "txn", title: "transactions", run: scenarioTxn},
		scenario{id: "config-describe", title: "config describe", run: scenarioConfigDescribe},
		scenario{id: "config-alter", title: "config alter", run: scenarioConfigAlter},
	)
}

// rowResult is one client's row.
type rowResult struct {
	client  *client
	version string
	cells   map[string]cell
}

func TestMatrix(t *testing.T) {
	ctx := context.Background()
	e := startTarget(t)
	scs := scenarios()
	clients := allClients()

	var mu sync.Mutex
	rows := map[string]*rowResult{}
	t.Run("clients", func(t *testing.T) {
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				row := runRow(ctx, t, e, c, scs)
				mu.Lock()
				rows[c.name] = row
				mu.Unlock()
			})
		}
	})

	complete := len(rows) == len(clients)
	path := *flagMatrix
	if path == "" {
		if e.target == targetSamsa {
			path = "MATRIX.md"
		} else {
			path = filepath.Join("out", "MATRIX."+e.target+".md")
		}
	}
	if !complete && *flagMatrix == "" {
		t.Logf("only %d of %d client rows ran; not writing %s", len(rows), len(clients), path)
		return
	}
	var ordered []*rowResult
	for _, c := range clients {
		if r, ok := rows[c.name]; ok {
			ordered = append(ordered, r)
		}
	}
	md := renderMatrix(e, scs, ordered)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("write matrix: %v", err)
	}
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		t.Fatalf("write matrix: %v", err)
	}
	t.Logf("matrix written to %s", path)
}

// runRow runs every scenario for one client, one after the other (the
// clients themselves run in parallel, each on its own topics).
func runRow(ctx context.Context, t *testing.T, e *env, c *client, scs []scenario) *rowResult {
	row := &rowResult{client: c, cells: map[string]cell{}}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	v, err := c.driver.version(vctx)
	cancel()
	if err != nil {
		// A client that cannot even report its version is not installed
		// properly; every cell fails with that reason.
		t.Errorf("%s: version: %v", c.name, err)
		v = "unknown (" + oneLine(err.Error()) + ")"
	}
	row.version = v
	for _, sc := range scs {
		var res cell
		if err != nil {
			res = cell{status: statusFail, detail: "client not usable: " + oneLine(err.Error())}
		} else {
			res = runCell(ctx, e, c, sc)
		}
		row.cells[sc.id] = res
		switch res.status {
		case statusFail:
			t.Errorf("%s / %s: FAIL: %s", c.name, sc.title, res.detail)
		case statusPass:
			t.Logf("%s / %s: pass (%s) %s", c.name, sc.title, res.took.Round(time.Millisecond), res.detail)
		default:
			t.Logf("%s / %s: %s: %s", c.name, sc.title, res.status, res.detail)
		}
	}
	return row
}

// runCell runs one scenario under the cell time limit. A scenario that does
// not return in time fails the cell; its goroutine is abandoned (the broker
// and external processes are torn down with the test).
func runCell(ctx context.Context, e *env, c *client, sc scenario) cell {
	if reason, ok := c.na[sc.id]; ok {
		return cell{status: statusNA, detail: reason}
	}
	if !e.alive() {
		return cell{status: statusFail, detail: "broker process is not running: " + e.exitInfo()}
	}
	ctx, cancel := context.WithTimeout(ctx, *flagCellTO)
	defer cancel()
	type out struct {
		note string
		err  error
	}
	done := make(chan out, 1)
	start := time.Now()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- out{err: fmt.Errorf("panic: %v\n%s", r, debug.Stack())}
			}
		}()
		n, err := sc.run(ctx, e, c)
		done <- out{n, err}
	}()
	var o out
	select {
	case o = <-done:
	case <-ctx.Done():
		// Give the scenario a moment to report its own, more precise
		// error (its operations share the same context).
		select {
		case o = <-done:
		case <-time.After(5 * time.Second):
			o = out{err: fmt.Errorf("timed out after %s", *flagCellTO)}
		}
	}
	took := time.Since(start)
	var na errNA
	var ny errNotYet
	switch {
	case o.err == nil:
		return cell{status: statusPass, detail: o.note, took: took}
	case errors.As(o.err, &na):
		return cell{status: statusNA, detail: na.reason, took: took}
	case errors.As(o.err, &ny):
		return cell{status: statusNotYet, detail: ny.Error(), took: took}
	default:
		d := o.err.Error()
		if !e.alive() {
			d += " (broker process exited: " + e.exitInfo() + ")"
		}
		return cell{status: statusFail, detail: d, took: took}
	}
}

func renderMatrix(e *env, scs []scenario, rows []*rowResult) string {
	var b strings.Builder
	b.WriteString("# Client compatibility matrix\n\n")
	b.WriteString("Generated by `cd compat && go test -count=1 ./...` (see compat/README.md); do not edit by hand.\n\n")
	fmt.Fprintf(&b, "Target: **%s**", e.target)
	if e.target != targetSamsa {
		b.WriteString(" (a stand-in broker used to check the suite itself, not Samsa)")
	}
	fmt.Fprintf(&b, ", generated %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("Cells: **pass** (ran and every assertion held), **FAIL**, **n/a** (the client cannot express the scenario), " +
		"**broker: not yet** (the broker does not advertise the APIs the scenario needs; the cell runs as soon as it does). " +
		"Notes below the table give every reason and error.\n\n")
	b.WriteString("| client | version |")
	for _, sc := range scs {
		b.WriteString(" " + sc.title + " |")
	}
	b.WriteString("\n|---|---|")
	for range scs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	type note struct{ client, sc, text string }
	var notes []note
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |", r.client.name, mdEscape(r.version))
		for _, sc := range scs {
			cl := r.cells[sc.id]
			s := cl.status.String()
			if cl.status == statusFail {
				s = "**FAIL**"
			}
			if cl.detail != "" {
				notes = append(notes, note{r.client.name, sc.title, cl.status.String() + ": " + cl.detail})
				s += fmt.Sprintf(" [%d]", len(notes))
			}
			b.WriteString(" " + s + " |")
		}
		b.WriteString("\n")
	}
	var clientNotes []string
	for _, r := range rows {
		if n := profileNotes(r.client.profile); n != "" {
			clientNotes = append(clientNotes, fmt.Sprintf("- %s: %s", r.client.name, n))
		}
	}
	if len(clientNotes) > 0 {
		b.WriteString("\nWhat some clients cannot put into a record (their records are adjusted in every scenario):\n\n")
		b.WriteString(mdEscape(strings.Join(clientNotes, "\n")) + "\n")
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s / %s — %s\n", i+1, n.client, n.sc, mdEscape(oneLine(n.text)))
		}
	}
	b.WriteString("\nScenarios:\n\n")
	b.WriteString("- **admin**: create a 3-partition topic with the client's admin API; the client's own metadata and franz-go's must both show it with 3 partitions.\n")
	b.WriteString("- **produce _codec_**: the client produces records with keys, null keys, binary keys and values, headers (duplicate keys, binary values) and explicit timestamps with that codec; franz-go reads them back and compares byte for byte, offsets included, and checks the batches carry the codec.\n")
	b.WriteString("- **consume**: the client produces records, franz-go appends batches in every codec the client can decode; the client consumes from the beginning and from an offset inside a compressed batch; both must equal the log byte for byte.\n")
	b.WriteString("- **idempotent produce**: as produce, with the idempotent producer; the batches must carry a producer id.\n")
	b.WriteString("- **group commit + resume**: a consumer in a group reads and commits everything, exits; more records are produced; a new consumer process in the same group must get exactly the new records; committed offsets are checked with franz-go.\n")
	b.WriteString("- **transactions**: one aborted and one committed transaction; read_committed consumers (the client and franz-go) must see exactly the committed records, read_uncommitted franz-go both.\n")
	b.WriteString("- **config describe**: the client describes a topic's retention.ms and gets what franz-go gets.\n")
	b.WriteString("- **config alter**: the client alters retention.ms, franz-go and the client then describe the new value.\n")
	b.WriteString("\nJava clients cannot be installed on the machines this suite runs on, so they are not in the matrix.\n")
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// sortedKeys is used where deterministic output matters.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
