package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open opens the store in dir and closes it when the test ends (closing an
// already closed store is harmless there).
func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, discard())
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func reopen(t *testing.T, s *Store, dir string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return open(t, dir)
}

func logPath(dir string) string { return filepath.Join(dir, logName) }

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func mustCreate(t *testing.T, s *Store, name string, parts int32, configs map[string]string) Topic {
	t.Helper()
	tp, err := s.CreateTopic(name, parts, configs, nil)
	if err != nil {
		t.Fatalf("CreateTopic(%s): %v", name, err)
	}
	return tp
}

// summary renders the image in a comparable form (IDs as hex).
func summary(ts []Topic) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s id=%x parts=%d configs=%v\n", t.Name, t.ID, t.Partitions, t.Configs)
	}
	return b.String()
}

func TestOpenEmptyCreatesLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "meta")
	s := open(t, dir)
	if n := len(s.Topics()); n != 0 {
		t.Fatalf("new store has %d topics", n)
	}
	if _, err := os.Stat(logPath(dir)); err != nil {
		t.Fatalf("metadata log not created: %v", err)
	}
}

func TestCreateDeleteRecreateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	a1 := mustCreate(t, s, "a", 3, map[string]string{"retention.ms": "1000"})
	b := mustCreate(t, s, "b", 1, nil)
	mustCreate(t, s, "gone", 2, nil)
	if err := s.DeleteTopic("a", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic("gone", nil); err != nil {
		t.Fatal(err)
	}
	a2 := mustCreate(t, s, "a", 5, nil)
	if a2.ID == a1.ID {
		t.Fatal("recreated topic reused the old topic ID")
	}
	before := summary(s.Topics())
	want := fmt.Sprintf("a id=%x parts=5 configs=map[]\nb id=%x parts=1 configs=map[]\n", a2.ID, b.ID)
	if before != want {
		t.Fatalf("image before reopen:\n%s\nwant\n%s", before, want)
	}

	s = reopen(t, s, dir)
	if got := summary(s.Topics()); got != want {
		t.Fatalf("image after reopen:\n%s\nwant\n%s", got, want)
	}
	if _, ok := s.TopicByID(a1.ID); ok {
		t.Fatal("deleted topic's ID still resolves after reopen")
	}
	if got, ok := s.TopicByID(a2.ID); !ok || got.Name != "a" || got.Partitions != 5 {
		t.Fatalf("TopicByID(new a) = %+v, %v", got, ok)
	}
	if _, ok := s.Topic("gone"); ok {
		t.Fatal("deleted topic back after reopen")
	}
	// Replay must leave a working store: more mutations and another reopen.
	if err := s.DeleteTopic("b", nil); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	if got := summary(s.Topics()); got != fmt.Sprintf("a id=%x parts=5 configs=map[]\n", a2.ID) {
		t.Fatalf("after deleting b and reopening:\n%s", got)
	}
}

func TestTopicIDsUniqueAndStable(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ids := map[TopicID]string{}
	for i := range 40 {
		name := fmt.Sprintf("t%02d", i)
		tp := mustCreate(t, s, name, 1, nil)
		if tp.ID == (TopicID{}) {
			t.Fatalf("%s got the zero topic ID", name)
		}
		if other, dup := ids[tp.ID]; dup {
			t.Fatalf("%s and %s share ID %x", name, other, tp.ID)
		}
		ids[tp.ID] = name
	}
	for _, reopenFn := range []func() *Store{
		func() *Store { return reopen(t, s, dir) },
		func() *Store { return open(t, dir) }, // crash: the previous store is never closed
	} {
		s = reopenFn()
		if n := len(s.Topics()); n != len(ids) {
			t.Fatalf("%d topics after reopen, want %d", n, len(ids))
		}
		for id, name := range ids {
			tp, ok := s.Topic(name)
			if !ok || tp.ID != id {
				t.Fatalf("topic %s: ID %x after reopen, want %x", name, tp.ID, id)
			}
			if byID, ok := s.TopicByID(id); !ok || byID.Name != name {
				t.Fatalf("TopicByID(%x) = %q, %v; want %s", id, byID.Name, ok, name)
			}
		}
	}
}

func TestNewTopicIDNonZeroAndDistinct(t *testing.T) {
	seen := map[TopicID]bool{}
	for range 1000 {
		id := NewTopicID()
		if id == (TopicID{}) || seen[id] {
			t.Fatalf("NewTopicID returned zero or repeated ID %x", id)
		}
		seen[id] = true
	}
}

func TestSetPartitionsAndConfigsPersisted(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	mustCreate(t, s, "x", 1, map[string]string{"cleanup.policy": "delete"})
	mustCreate(t, s, "y", 2, map[string]string{"segment.ms": "1"})

	var seen Topic
	if err := s.SetPartitions("x", 4, func(tp Topic) error { seen = tp; return nil }); err != nil {
		t.Fatal(err)
	}
	if seen.Name != "x" || seen.Partitions != 1 {
		t.Fatalf("before hook saw %+v, want the topic as it was (1 partition)", seen)
	}
	if err := s.SetConfigs("x", map[string]string{"retention.ms": "60000", "max.message.bytes": "2000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfigs("y", nil); err != nil { // clear every explicit config
		t.Fatal(err)
	}
	check := func(s *Store, when string) {
		t.Helper()
		x, _ := s.Topic("x")
		if x.Partitions != 4 {
			t.Errorf("%s: x has %d partitions, want 4", when, x.Partitions)
		}
		if want := map[string]string{"retention.ms": "60000", "max.message.bytes": "2000"}; !reflect.DeepEqual(x.Configs, want) {
			t.Errorf("%s: x configs %v, want %v (SetConfigs replaces, not merges)", when, x.Configs, want)
		}
		y, _ := s.Topic("y")
		if y.Configs == nil || len(y.Configs) != 0 || y.Partitions != 2 {
			t.Errorf("%s: y = %+v, want 2 partitions and an empty non-nil config map", when, y)
		}
	}
	check(s, "before reopen")
	s = reopen(t, s, dir)
	check(s, "after reopen")
	s = open(t, dir) // crash-style second open
	check(s, "after crash reopen")
}

func TestSetPartitionsHookErrorAborts(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	mustCreate(t, s, "x", 2, nil)
	size := fileSize(t, logPath(dir))
	boom := errors.New("cannot create partition directory")
	if err := s.SetPartitions("x", 9, func(Topic) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("SetPartitions error %v, want the hook's error", err)
	}
	if x, _ := s.Topic("x"); x.Partitions != 2 {
		t.Fatalf("partitions changed to %d despite hook error", x.Partitions)
	}
	if got := fileSize(t, logPath(dir)); got != size {
		t.Fatalf("log grew from %d to %d bytes despite hook error", size, got)
	}
	s = reopen(t, s, dir)
	if x, _ := s.Topic("x"); x.Partitions != 2 {
		t.Fatalf("after reopen partitions = %d, want 2", x.Partitions)
	}
}

func TestMutatorErrors(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	orig := mustCreate(t, s, "t", 1, nil)
	size := fileSize(t, logPath(dir))
	hookRan := false
	if _, err := s.CreateTopic("t", 3, nil, func(Topic) error { hookRan = true; return nil }); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("CreateTopic(existing) = %v, want ErrTopicExists", err)
	}
	if hookRan {
		t.Fatal("before hook ran for an existing topic")
	}
	if err := s.DeleteTopic("nope", func(Topic) { t.Error("after hook ran for unknown topic") }); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("DeleteTopic(unknown) = %v", err)
	}
	if err := s.SetPartitions("nope", 2, func(Topic) error { t.Error("hook ran for unknown topic"); return nil }); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("SetPartitions(unknown) = %v", err)
	}
	if err := s.SetConfigs("nope", map[string]string{"a": "b"}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("SetConfigs(unknown) = %v", err)
	}
	if got := fileSize(t, logPath(dir)); got != size {
		t.Fatalf("failed mutations wrote to the log (%d -> %d bytes)", size, got)
	}
	if tp, _ := s.Topic("t"); tp.ID != orig.ID || tp.Partitions != 1 {
		t.Fatalf("existing topic changed: %+v", tp)
	}
	// A deleted topic is unknown to the mutators.
	if err := s.DeleteTopic("t", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic("t", nil); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second DeleteTopic = %v", err)
	}
	if err := s.SetConfigs("t", nil); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("SetConfigs(deleted) = %v", err)
	}
}

func TestCreateTopicBeforeHook(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	size := fileSize(t, logPath(dir))

	boom := errors.New("disk full")
	var seen Topic
	_, err := s.CreateTopic("t", 3, map[string]string{"k": "v"}, func(tp Topic) error {
		seen = tp
		// The topic is not visible while its creation is undecided.
		if _, ok := s.topics["t"]; ok {
			t.Error("topic visible inside the before hook")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("CreateTopic error %v, want the hook's error", err)
	}
	if seen.Name != "t" || seen.Partitions != 3 || seen.ID == (TopicID{}) || seen.Configs["k"] != "v" {
		t.Fatalf("hook saw %+v", seen)
	}
	if _, ok := s.Topic("t"); ok {
		t.Fatal("topic visible after hook error")
	}
	if _, ok := s.TopicByID(seen.ID); ok {
		t.Fatal("topic ID resolves after hook error")
	}
	if got := fileSize(t, logPath(dir)); got != size {
		t.Fatalf("log grew from %d to %d bytes despite hook error", size, got)
	}
	s = reopen(t, s, dir)
	if n := len(s.Topics()); n != 0 {
		t.Fatalf("%d topics after reopen, want 0", n)
	}

	// On success, the hook sees the ID the topic ends up with.
	var hookID TopicID
	tp, err := s.CreateTopic("t", 1, nil, func(tp Topic) error { hookID = tp.ID; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if tp.ID != hookID {
		t.Fatalf("created ID %x differs from the one given to the hook %x", tp.ID, hookID)
	}
}

func TestDeleteTopicAfterHook(t *testing.T) {
	s := open(t, t.TempDir())
	created := mustCreate(t, s, "t", 2, map[string]string{"a": "b"})
	var got Topic
	if err := s.DeleteTopic("t", func(tp Topic) {
		got = tp
		if _, ok := s.topics["t"]; ok {
			t.Error("topic still in the image when the after hook runs")
		}
	}); err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Partitions != 2 || got.Configs["a"] != "b" {
		t.Fatalf("after hook got %+v, want the deleted topic %+v", got, created)
	}
}

func TestReturnedTopicsAreCopies(t *testing.T) {
	s := open(t, t.TempDir())
	mustCreate(t, s, "t", 1, map[string]string{"a": "1"})
	tp, _ := s.Topic("t")
	tp.Configs["a"] = "mutated"
	tp.Configs["b"] = "added"
	for _, x := range s.Topics() {
		x.Configs["c"] = "x"
	}
	byID, _ := s.TopicByID(tp.ID)
	byID.Configs["d"] = "x"
	if got, _ := s.Topic("t"); !reflect.DeepEqual(got.Configs, map[string]string{"a": "1"}) {
		t.Fatalf("store image changed through a returned copy: %v", got.Configs)
	}
}

func TestTopicsSortedByName(t *testing.T) {
	s := open(t, t.TempDir())
	for _, n := range []string{"m", "b", "z", "a", "k"} {
		mustCreate(t, s, n, 1, nil)
	}
	var names []string
	for _, tp := range s.Topics() {
		names = append(names, tp.Name)
	}
	if want := []string{"a", "b", "k", "m", "z"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Topics() order %v, want %v", names, want)
	}
}

func TestTornLastLineTruncated(t *testing.T) {
	tails := map[string]string{
		"half a topic record":   `{"type":"topic","name":"half","id":[1,2,3`,
		"complete json no \\n":  `{"type":"delete_topic","name":"a"}`,
		"half a producer block": `{"type":"producer_ids","next_p`,
		"garbage bytes":         "\x00\x00\x00\xff",
	}
	for name, tail := range tails {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			a := mustCreate(t, s, "a", 2, nil)
			mustCreate(t, s, "b", 1, map[string]string{"x": "y"})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			good := fileSize(t, logPath(dir))
			f, err := os.OpenFile(logPath(dir), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(tail); err != nil {
				t.Fatal(err)
			}
			f.Close()

			var logBuf bytes.Buffer
			s, err = Open(dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatalf("Open with torn tail: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			if got := fileSize(t, logPath(dir)); got != good {
				t.Fatalf("file is %d bytes after reopen, want the %d good bytes", got, good)
			}
			if !strings.Contains(logBuf.String(), "torn") {
				t.Errorf("no warning logged about the torn tail: %q", logBuf.String())
			}
			if got := summary(s.Topics()); !strings.HasPrefix(got, fmt.Sprintf("a id=%x parts=2", a.ID)) || !strings.Contains(got, "b id=") {
				t.Fatalf("image after truncation:\n%s", got)
			}
			// Later writes land on a clean line boundary and replay.
			c := mustCreate(t, s, "c", 7, nil)
			if err := s.DeleteTopic("b", nil); err != nil {
				t.Fatal(err)
			}
			s = reopen(t, s, dir)
			want := fmt.Sprintf("a id=%x parts=2 configs=map[]\nc id=%x parts=7 configs=map[]\n", a.ID, c.ID)
			if got := summary(s.Topics()); got != want {
				t.Fatalf("after writes past the truncation and reopen:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestNextProducerIDNeverRepeats(t *testing.T) {
	dir := t.TempDir()
	seen := map[int64]bool{}
	last := int64(-1)
	take := func(s *Store, n int) {
		t.Helper()
		for range n {
			id, err := s.NextProducerID()
			if err != nil {
				t.Fatal(err)
			}
			if id < 0 || seen[id] {
				t.Fatalf("producer ID %d negative or handed out before", id)
			}
			if id <= last {
				t.Fatalf("producer ID %d not above the previous %d", id, last)
			}
			seen[id], last = true, id
		}
	}
	s := open(t, dir)
	take(s, 10)
	s = reopen(t, s, dir) // clean restart
	take(s, 1500)         // crosses a block boundary
	s = open(t, dir)      // crash: no Close
	take(s, 3)
	s = open(t, dir) // crash right after start, nothing allocated
	s = open(t, dir)
	take(s, 1)
	s = reopen(t, s, dir)
	take(s, 2)
	if len(seen) != 10+1500+3+1+2 {
		t.Fatalf("%d distinct IDs", len(seen))
	}
}

// IDs come from persisted blocks: one fsynced record per block, not per ID.
func TestNextProducerIDBlocks(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	countRecords := func() int {
		t.Helper()
		data, err := os.ReadFile(logPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(data), `"type":"producer_ids"`)
	}
	first, err := s.NextProducerID()
	if err != nil {
		t.Fatal(err)
	}
	if n := countRecords(); n != 1 {
		t.Fatalf("%d producer_ids records after the first ID, want 1", n)
	}
	for i := 1; i < pidBlockSize; i++ {
		id, err := s.NextProducerID()
		if err != nil {
			t.Fatal(err)
		}
		if id != first+int64(i) {
			t.Fatalf("ID %d within a block, want %d", id, first+int64(i))
		}
	}
	if n := countRecords(); n != 1 {
		t.Fatalf("%d producer_ids records after one block, want 1", n)
	}
	next, _ := s.NextProducerID()
	if next != first+pidBlockSize || countRecords() != 2 {
		t.Fatalf("first ID of the second block %d (records %d), want %d and 2 records", next, countRecords(), first+pidBlockSize)
	}
	// A restart skips the rest of the current block.
	s = open(t, dir)
	afterCrash, _ := s.NextProducerID()
	if afterCrash != first+2*pidBlockSize {
		t.Fatalf("first ID after crash %d, want %d (start of the next unused block)", afterCrash, first+2*pidBlockSize)
	}
}

func TestConcurrentMutations(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const workers = 8
	var wg sync.WaitGroup
	created := make(chan TopicID, workers)
	ids := make(chan int64, workers*50)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tp, err := s.CreateTopic("same", 1, nil, nil); err == nil {
				created <- tp.ID
			} else if !errors.Is(err, ErrTopicExists) {
				t.Errorf("CreateTopic: %v", err)
			}
			if _, err := s.CreateTopic(fmt.Sprintf("own-%d", w), 1, nil, nil); err != nil {
				t.Errorf("CreateTopic own: %v", err)
			}
			for range 50 {
				id, err := s.NextProducerID()
				if err != nil {
					t.Errorf("NextProducerID: %v", err)
					return
				}
				ids <- id
			}
			s.Topics()
		}()
	}
	wg.Wait()
	close(created)
	close(ids)
	if n := len(created); n != 1 {
		t.Fatalf("%d concurrent creations of the same topic succeeded, want 1", n)
	}
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("producer ID %d handed out twice", id)
		}
		seen[id] = true
	}
	s = reopen(t, s, dir)
	if n := len(s.Topics()); n != workers+1 {
		t.Fatalf("%d topics after reopen, want %d", n, workers+1)
	}
}

// A well-formed JSON line that is not a valid record (here a topic record
// without its ID, e.g. from a hand edit or a bug in an older version) is
// corrupt input from disk: Open must return an error naming the file, never
// panic.
func TestOpenTopicRecordWithoutIDDoesNotPanic(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(logPath(dir), []byte(`{"type":"topic","name":"x","partitions":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("Open panicked on a topic record without an id: %v", r)
			}
		}()
		var s *Store
		s, err = Open(dir, discard())
		if err == nil {
			s.Close()
		}
	}()
	if err == nil {
		t.Fatal("Open accepted a topic record without an id")
	}
	if !strings.Contains(err.Error(), logName) {
		t.Errorf("error %q does not name the metadata log", err)
	}
}

// Only the last line can be torn by a crash (every record is written with its
// newline and fsynced before the next). A bad line with complete records
// after it is corruption, not a torn tail: Open must not silently truncate the
// acknowledged records behind it - dropping them loses topics and, worse,
// the producer-ID block record, so IDs already handed out are handed out
// again. Either refuse to open (an error naming the file) or keep them.
func TestOpenCorruptMiddleLineDoesNotDropLaterRecords(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	mustCreate(t, s, "a", 1, nil)
	mustCreate(t, s, "b", 1, nil)
	pid, err := s.NextProducerID()
	if err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, s, "c", 1, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(logPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if !bytes.Contains(lines[1], []byte(`"name":"b"`)) {
		t.Fatalf("unexpected log layout: %q", data)
	}
	lines[1][0] = 'X' // one flipped byte in the middle of the file
	if err := os.WriteFile(logPath(dir), bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir, discard())
	if err != nil {
		if !strings.Contains(err.Error(), logName) {
			t.Errorf("error %q does not name the metadata log", err)
		}
		return // refusing to start is acceptable
	}
	t.Cleanup(func() { s.Close() })
	if got, ok := s.Topic("c"); !ok || got.ID != c.ID {
		t.Errorf("topic c, created after the corrupt line, was silently dropped; image:\n%s", summary(s.Topics()))
	}
	if next, err := s.NextProducerID(); err != nil || next <= pid {
		t.Errorf("NextProducerID after reopen = %d, %v: producer ID %d was already handed out before", next, err, pid)
	}
	if got := fileSize(t, logPath(dir)); got < int64(len(data))-int64(len(lines[1])) {
		t.Errorf("metadata log truncated to %d of %d bytes", got, len(data))
	}
}

// The image must not share the caller's config map: CreateTopic and
// SetConfigs keep the map they are given, so a caller that reuses or edits
// it afterwards changes the topic's configs behind the store's lock (a data
// race with readers) without writing a record - the change is lost on
// restart.
func TestConfigsNotAliasedWithCaller(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	m := map[string]string{"retention.ms": "1000"}
	mustCreate(t, s, "t", 1, m)
	m["retention.ms"] = "edited"
	m["cleanup.policy"] = "compact"
	if got, _ := s.Topic("t"); !reflect.DeepEqual(got.Configs, map[string]string{"retention.ms": "1000"}) {
		t.Errorf("CreateTopic: editing the caller's map changed the image to %v", got.Configs)
	}

	m2 := map[string]string{"segment.ms": "5"}
	if err := s.SetConfigs("t", m2); err != nil {
		t.Fatal(err)
	}
	delete(m2, "segment.ms")
	if got, _ := s.Topic("t"); !reflect.DeepEqual(got.Configs, map[string]string{"segment.ms": "5"}) {
		t.Errorf("SetConfigs: editing the caller's map changed the image to %v", got.Configs)
	}
}

// Group configs are kept whether or not the group exists, replaced as a
// whole, removed with an empty set, and survive a reopen.
func TestGroupConfigsPersisted(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.SetGroupConfigs("g1", map[string]string{"consumer.session.timeout.ms": "50000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupConfigs("g2", map[string]string{"consumer.heartbeat.interval.ms": "6000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupConfigs("g2", map[string]string{"consumer.session.timeout.ms": "55000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupConfigs("g3", map[string]string{"consumer.session.timeout.ms": "46000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupConfigs("g3", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupConfigs("", map[string]string{"consumer.session.timeout.ms": "50000"}); err == nil {
		t.Error("SetGroupConfigs accepted an empty group ID")
	}
	check := func(s *Store, when string) {
		t.Helper()
		want := map[string]map[string]string{
			"g1": {"consumer.session.timeout.ms": "50000"},
			"g2": {"consumer.session.timeout.ms": "55000"}, // replaced, not merged
			"g3": nil,
		}
		for g, w := range want {
			if got := s.GroupConfigs(g); !reflect.DeepEqual(got, w) {
				t.Errorf("%s: GroupConfigs(%s) = %v, want %v", when, g, got, w)
			}
		}
		if v, ok := s.GroupConfig("g1", "consumer.session.timeout.ms"); !ok || v != "50000" {
			t.Errorf("%s: GroupConfig(g1, session) = %q, %v", when, v, ok)
		}
		if _, ok := s.GroupConfig("g1", "consumer.heartbeat.interval.ms"); ok {
			t.Errorf("%s: GroupConfig(g1, heartbeat) found a value never set", when)
		}
	}
	check(s, "before reopen")
	got := s.GroupConfigs("g1")
	got["consumer.session.timeout.ms"] = "1"
	if v, _ := s.GroupConfig("g1", "consumer.session.timeout.ms"); v != "50000" {
		t.Errorf("GroupConfigs returned the store's own map: a caller's edit changed it to %s", v)
	}
	s = reopen(t, s, dir)
	check(s, "after reopen")
}
