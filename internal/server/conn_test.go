package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRoundTripAndRequestContext(t *testing.T) {
	h := newHandler()
	_, addr := start(t, Config{}, h)
	c1, c2 := dial(t, addr), dial(t, addr)
	for i, c := range []*client{c1, c2} {
		for _, v := range []int16{0, 2, 8, 9, 12} {
			corr := int32(100*i) + int32(v)
			c.send(fmt.Sprintf("c%d-v%d", i, v), metadataReq(v), corr)
			if v < 2 {
				c.recv(metadataReq(v), corr) // no cluster ID before v2
				continue
			}
			if got, want := c.recvMetadata(v, corr), fmt.Sprintf("c%d-v%d", i, v); got != want {
				t.Fatalf("response %d carries %q, want %q", corr, got, want)
			}
		}
	}
	rcs := h.waitHandled(t, 10)
	conns := map[uint64]string{}
	for _, rc := range rcs {
		if rc.APIKey != kmsg.Metadata.Int16() || !strings.HasPrefix(rc.ClientID, "c") {
			t.Fatalf("request context %+v", rc)
		}
		wantVersion := rc.ClientID[strings.Index(rc.ClientID, "-v")+2:]
		if fmt.Sprint(rc.APIVersion) != wantVersion {
			t.Fatalf("request %q decoded as version %d", rc.ClientID, rc.APIVersion)
		}
		local := c1.nc.LocalAddr().String()
		if rc.ClientID[1] == '1' {
			local = c2.nc.LocalAddr().String()
		}
		if rc.ClientAddr.String() != local {
			t.Fatalf("ClientAddr %s, want %s", rc.ClientAddr, local)
		}
		if prev, ok := conns[rc.ConnID]; ok && prev != rc.ClientID[:2] {
			t.Fatalf("connection ID %d shared by %s and %s", rc.ConnID, prev, rc.ClientID[:2])
		}
		conns[rc.ConnID] = rc.ClientID[:2]
	}
	if len(conns) != 2 {
		t.Fatalf("%d connection IDs for 2 connections", len(conns))
	}
}

func TestApiVersionsHeaders(t *testing.T) {
	h := newHandler()
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	// v3 and v4 are flexible requests, but the ApiVersions response header
	// stays v0 (recv checks there is no tag byte).
	for _, v := range []int16{0, 1, 2, 3, 4} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "samsa-test", "1.0"
		c.send("av", req, int32(v))
		resp := c.recv(req, int32(v)).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 || len(resp.ApiKeys) != 2 {
			t.Fatalf("v%d: %+v", v, resp)
		}
	}
	// KIP-511: an unsupported version is decoded as v0 and answered with a
	// v0 response, so the client learns the supported range.
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 5 // supported by kmsg, not by this handler
	req.ClientSoftwareName, req.ClientSoftwareVersion = "future", "9"
	c.send("av", req, 77)
	v0 := kmsg.NewPtrApiVersionsRequest()
	resp := c.recv(v0, 77).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 2 || resp.ApiKeys[0].MaxVersion != 4 {
		t.Fatalf("unsupported version answer: %+v", resp)
	}
	rcs := h.waitHandled(t, 6)
	if last := rcs[5]; last.APIVersion != 5 || last.CorrelationID != 77 {
		t.Fatalf("request context of the unsupported request: %+v", last)
	}
	// The connection is still usable.
	c.send("after", metadataReq(12), 78)
	if got := c.recvMetadata(12, 78); got != "after" {
		t.Fatalf("got %q", got)
	}
}

func TestFrameSizeLimits(t *testing.T) {
	valid := func(pad int) []byte {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		req.ClientSoftwareName, req.ClientSoftwareVersion = "x"+strings.Repeat("a", pad), "1"
		return frame("limits", req, 1)
	}
	atLimit := valid(900)
	limit := int32(len(atLimit) - 4)

	sizePrefix := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	cases := []struct {
		name string
		send []byte
	}{
		{"one byte over the limit", valid(901)},
		{"size prefix only, far over the limit", sizePrefix(100 << 20)},
		{"negative size", sizePrefix(0xffffffff)},
		{"min int32 size", sizePrefix(0x80000000)},
		{"shorter than a request header", append(sizePrefix(5), 0, 18, 0, 0, 0)},
		{"zero size", sizePrefix(0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler()
			_, addr := start(t, Config{MaxRequestBytes: limit}, h)
			c := dial(t, addr)
			// Only the prefix (and at most the bytes given) are sent: if the
			// server waited for the announced body, it would never close.
			c.write(tc.send)
			c.expectClosed()
			if n := len(h.handled); n != 0 {
				t.Fatalf("%d requests handled", n)
			}
		})
	}
	t.Run("exactly at the limit", func(t *testing.T) {
		h := newHandler()
		_, addr := start(t, Config{MaxRequestBytes: limit}, h)
		c := dial(t, addr)
		c.write(atLimit)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		if resp := c.recv(req, 1).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
			t.Fatalf("%+v", resp)
		}
	})
}

func TestMalformedRequestsCloseConnection(t *testing.T) {
	unknownKey := frame("x", metadataReq(1), 1)
	binary.BigEndian.PutUint16(unknownKey[4:], 9999)
	unsupported := frame("x", metadataReq(13), 1) // kmsg knows v13, the handler does not
	unhandledKey := frame("x", kmsg.NewPtrFindCoordinatorRequest(), 1)
	badClientID := frame("x", metadataReq(1), 1)
	binary.BigEndian.PutUint16(badClientID[12:], 500)
	// Request header v2 whose tag section is an unterminated varint.
	badTags := frame("x", metadataReq(12), 1)[:4+10+1]
	badTags = append(badTags, 0x80)
	binary.BigEndian.PutUint32(badTags, uint32(len(badTags)-4))
	truncatedBody := frame("x", func() kmsg.Request {
		r := metadataReq(4)
		r.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("some-topic")}}
		return r
	}(), 1)
	truncatedBody = truncatedBody[:len(truncatedBody)-4]
	binary.BigEndian.PutUint32(truncatedBody, uint32(len(truncatedBody)-4))

	cases := map[string][]byte{
		"unknown api key":          unknownKey,
		"unsupported version":      unsupported,
		"key the handler lacks":    unhandledKey,
		"client id overruns frame": badClientID,
		"bad header tags":          badTags,
		"truncated body":           truncatedBody,
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHandler()
			_, addr := start(t, Config{}, h)
			c := dial(t, addr)
			// A good request first: it is answered, then the bad one closes.
			c.send("good", metadataReq(9), 1)
			c.write(b)
			if got := c.recvMetadata(9, 1); got != "good" {
				t.Fatalf("got %q", got)
			}
			c.expectClosed()
			if n := len(h.handled); n != 1 {
				t.Fatalf("%d requests handled, want only the good one", n)
			}
		})
	}
}

// Responses are written in request order even when an earlier reply is the
// slow one.
func TestResponsesInRequestOrder(t *testing.T) {
	for _, maxInFlight := range []int{1, 100} {
		t.Run(fmt.Sprintf("MaxInFlight=%d", maxInFlight), func(t *testing.T) {
			h := newHandler()
			_, addr := start(t, Config{MaxInFlight: maxInFlight}, h)
			c := dial(t, addr)
			ids := []string{"slow-a", "fast1", "slow-b", "fast2", "fast3"}
			var pipelined []byte
			for i, id := range ids {
				pipelined = append(pipelined, frame(id, metadataReq(12), int32(i))...)
			}
			c.write(pipelined)
			if maxInFlight > 1 {
				// Every request was read and its reply created while the
				// first reply is still blocked.
				h.waitHandled(t, len(ids))
			}
			h.release("b") // the later slow reply finishes first
			h.release("a")
			for i, id := range ids {
				if got := c.recvMetadata(12, int32(i)); got != id {
					t.Fatalf("response %d is for %q, want %q", i, got, id)
				}
			}
		})
	}
}

// A nil Reply (acks=0) sends nothing; the responses after it still come in
// order.
func TestNilReplySendsNothing(t *testing.T) {
	h := newHandler()
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	reqs := []struct {
		id   string
		corr int32
	}{{"first", 1}, {"noreply", 2}, {"slow-x", 3}, {"noreply", 4}, {"noreply", 5}, {"last", 6}}
	var b []byte
	for _, r := range reqs {
		b = append(b, frame(r.id, metadataReq(9), r.corr)...)
	}
	c.write(b)
	h.waitHandled(t, len(reqs))
	h.release("x")
	for _, want := range []struct {
		id   string
		corr int32
	}{{"first", 1}, {"slow-x", 3}, {"last", 6}} {
		if got := c.recvMetadata(9, want.corr); got != want.id {
			t.Fatalf("response %d is for %q, want %q", want.corr, got, want.id)
		}
	}
	// Nothing was queued for the acks=0 requests: the next response is the
	// next request's.
	c.send("next", metadataReq(9), 7)
	if got := c.recvMetadata(9, 7); got != "next" {
		t.Fatalf("got %q", got)
	}
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	const idle = 200 * time.Millisecond
	h := newHandler()
	_, addr := start(t, Config{IdleTimeout: idle}, h)
	c := dial(t, addr)
	c.send("hello", metadataReq(9), 1)
	if got := c.recvMetadata(9, 1); got != "hello" {
		t.Fatalf("got %q", got)
	}
	lastActivity := time.Now()
	c.expectClosed()
	if elapsed := time.Since(lastActivity); elapsed < idle/2 {
		t.Fatalf("closed after %v, before the idle timeout of %v", elapsed, idle)
	}

	// A connection that never sends anything is closed too.
	silent := dial(t, addr)
	silent.expectClosed()
}

// Shutdown stops reading, ends the waits of long polls at once (their
// replies still go out), lets the replies of requests already read finish
// and be written, then closes the connection.
func TestShutdownFinishesInFlightReplies(t *testing.T) {
	h := newHandler()
	s, addr := start(t, Config{IdleTimeout: time.Minute}, h)
	c := dial(t, addr)
	idle := dial(t, addr)
	c.writeMetadataReqs([]string{"slow-b", "gated-a", "fast"}, 1)
	h.waitHandled(t, 3)

	done := shutdownAsync(t, s)
	// The idle connection is closed without waiting for anything.
	idle.expectClosed()
	// The long poll ends now, without release("b").
	select {
	case name := <-h.ctxDone:
		if name != "b" {
			t.Fatalf("shutdown ended the wait of %q, want only the long poll b", name)
		}
	case <-time.After(waitLimit):
		t.Fatal("shutdown did not end the long poll's wait")
	}
	c.expectMetadataReplies(t, []string{"slow-b"}, 1)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a reply was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}

	h.release("a")
	c.expectMetadataReplies(t, []string{"gated-a", "fast"}, 2)
	c.expectClosed()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Shutdown did not return")
	}
	if len(h.ctxDone) != 0 {
		t.Fatal("a graceful shutdown ended the wait of a reply that is not a long poll")
	}
	// No new connections.
	if nc, err := net.DialTimeout("tcp", addr, waitLimit); err == nil {
		nc.SetReadDeadline(time.Now().Add(waitLimit))
		_, rerr := nc.Read(make([]byte, 1))
		nc.Close()
		if !isClosedErr(rerr) {
			t.Fatalf("connection after Shutdown not refused or closed: %v", rerr)
		}
	}
}

// With an expired context Shutdown closes the connections instead of
// waiting for their replies, and returns the context's error once the
// replies have given up.
func TestShutdownExpiredContextForceCloses(t *testing.T) {
	h := newHandler()
	s, addr := start(t, Config{}, h)
	c := dial(t, addr)
	c.send("gated-never", metadataReq(12), 1)
	h.waitHandled(t, 1)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	c.drainUntilClosed() // closed while the reply still waits
	h.release("never")
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown with an expired context = %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Shutdown did not return")
	}
}

// A client that stops reading while a large response is written blocks the
// connection's writer; Shutdown with a deadline must close it and return.
func TestShutdownDeadlineClosesBlockedWriter(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 256 << 20 // far beyond socket buffers; sparse, so cheap
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	h := newHandler()
	h.setBody("big", []Part{{File: f, Pos: 0, Size: size}})
	s, addr := start(t, Config{}, h)
	c := dial(t, addr)
	c.send("body-big", metadataReq(8), 1)
	h.waitHandled(t, 1)
	// Read a little to be sure the response is being written, then stop.
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.ReadFull(c.nc, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(ctx) }()
	select {
	case err := <-errc:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Shutdown hung on a connection whose writer is blocked")
	}
	if n := h.releases("big"); n != 1 {
		t.Fatalf("Release called %d times for the dropped response, want 1", n)
	}
	c.drainUntilClosed()
}

// Pre-encoded bodies mix byte parts and file parts; file parts go out with
// sendfile. The client must receive exactly the concatenation.
func TestBodyPartsWithFiles(t *testing.T) {
	content := make([]byte, 3<<20)
	rand.Read(content)
	path := filepath.Join(t.TempDir(), "segment.log")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Move the file's shared offset: parts must not depend on it.
	if _, err := f.Seek(12345, io.SeekStart); err != nil {
		t.Fatal(err)
	}

	bodies := map[string][]Part{
		"mixed": {
			{Bytes: []byte("head")},
			{File: f, Pos: 10, Size: 100},
			{Bytes: []byte{1, 2, 3}},
			{Bytes: []byte("adjacent bytes part")},
			{File: f, Pos: 1000, Size: 5<<19 + 7}, // > 1 MiB
			{File: f, Pos: 0, Size: 0},
			{File: f, Pos: int64(len(content)) - 1, Size: 1},
			{Bytes: []byte("tail")},
		},
		"file-only":  {{File: f, Pos: 1 << 20, Size: 2 << 20}},
		"bytes-only": {{Bytes: []byte("a")}, {Bytes: nil}, {Bytes: []byte("bc")}},
		"empty":      nil,
	}
	expect := func(parts []Part) []byte {
		var b []byte
		for _, p := range parts {
			if p.File != nil {
				b = append(b, content[p.Pos:p.Pos+p.Size]...)
			} else {
				b = append(b, p.Bytes...)
			}
		}
		return b
	}
	h := newHandler()
	for name, parts := range bodies {
		h.setBody(name, parts)
	}
	_, addr := start(t, Config{IdleTimeout: time.Minute}, h)
	c := dial(t, addr)
	corr := int32(0)
	for _, version := range []int16{8, 12} { // response header v0 and v1
		for _, name := range []string{"mixed", "file-only", "bytes-only", "empty"} {
			corr++
			c.send("body-"+name, metadataReq(version), corr)
			got, err := c.readFrame()
			if err != nil {
				t.Fatalf("%s v%d: %v", name, version, err)
			}
			want := binary.BigEndian.AppendUint32(nil, uint32(corr))
			if version >= 9 {
				want = append(want, 0)
			}
			want = append(want, expect(bodies[name])...)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s v%d: got %d bytes, want %d (first difference at %d)", name, version, len(got), len(want), firstDiff(got, want))
			}
			// The framing continues correctly after the body.
			corr++
			c.send("plain", metadataReq(version), corr)
			if id := c.recvMetadata(version, corr); id != "plain" {
				t.Fatalf("after %s: got %q", name, id)
			}
		}
	}
	waitFor(t, "Release of every body", func() bool { return h.releases("mixed") == 2 && h.releases("empty") == 2 })
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 12345 {
		t.Fatalf("sending moved the file's shared offset to %d", pos)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// sendFile without a TCP connection falls back to positional reads.
func TestSendFileNonTCP(t *testing.T) {
	content := make([]byte, 1<<20+3)
	rand.Read(content)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- sendFile(a, f, 7, int64(len(content))-7) }()
	got := make([]byte, len(content)-7)
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content[7:]) {
		t.Fatal("content differs")
	}
}

// A file part reaching past the end of the file (the segment was truncated
// under the read) is an error, not a hang or short frame sent as complete.
func TestSendFileShrunkFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- nc
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	defer srv.Close()
	err = sendFile(srv, f, 4, 100)
	if err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("sendFile past EOF = %v, want a 'shrank' error", err)
	}
	got := make([]byte, 6)
	client.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "456789" {
		t.Fatalf("client got %q, %v", got, err)
	}
}

// Shutdown of a connection whose client keeps sending must still stop
// reading promptly. readLoop re-arms the idle deadline at the top of every
// iteration after checking stopping; when stopReading runs between that check
// and SetReadDeadline, its "stop now" deadline is overwritten with
// now+IdleTimeout and the connection keeps being served, so a graceful
// Shutdown waits for its context and has to force-close. The race window is
// small: the test repeats until it shows, or passes after enough clean
// rounds.
func TestShutdownBusyConnectionStopsReading(t *testing.T) {
	const rounds = 300
	req := frame("busy", metadataReq(9), 1)
	burst := bytes.Repeat(req, 20)
	for i := range rounds {
		h := newHandler()
		var handled atomic.Int64
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for range h.handled {
				handled.Add(1)
			}
		}()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := New(Config{MaxRequestBytes: 1 << 20, IdleTimeout: time.Minute}, h, discard())
		s.Serve(ln)
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		writerDone := make(chan struct{})
		go func() {
			defer close(writerDone)
			for {
				if _, err := nc.Write(burst); err != nil {
					return
				}
			}
		}()
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			io.Copy(io.Discard, nc)
		}()
		// Let the connection get busy.
		waitFor(t, "requests to flow", func() bool { return handled.Load() > 0 })

		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err = s.Shutdown(ctx)
		cancel()
		nc.Close()
		<-writerDone
		<-readerDone
		close(h.handled)
		<-drained
		if err != nil {
			t.Fatalf("round %d: graceful Shutdown of a busy connection = %v: the connection was still being read when the deadline came", i, err)
		}
	}
}

// Ready replies with nothing queued before them are written by the reader
// itself; mixed with replies the writer holds, every response still comes
// in request order.
func TestReadyRepliesInOrder(t *testing.T) {
	h := newHandler()
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	for i := int32(0); i < 3; i++ { // one at a time: each goes out inline
		c.write(frame(fmt.Sprintf("fast-%d", i), metadataReq(12), i))
		if got := c.recvMetadata(12, i); got != fmt.Sprintf("fast-%d", i) {
			t.Fatalf("response %d is for %q", i, got)
		}
	}
	ids := []string{"fast-a", "plain", "fast-b", "slow-c", "fast-d", "fast-e"}
	c.writeMetadataReqs(ids, 10)
	h.waitHandled(t, 3+len(ids))
	h.release("c")
	c.expectMetadataReplies(t, ids, 10)
}

// TestInlineReplies: an Inline reply with nothing queued before it is
// waited for by the reader, which handles the next request only once it
// is written (as Kafka serves one request per connection at a time);
// behind a queued reply it goes to the writer like any other, and the
// responses stay in request order either way.
func TestInlineReplies(t *testing.T) {
	h := newHandler()
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	c.write(append(frame("inline-a", metadataReq(12), 1), frame("fast-b", metadataReq(12), 2)...))
	h.waitHandled(t, 1)
	select {
	case rc := <-h.handled:
		t.Fatalf("request %d handled while the inline reply before it waits", rc.CorrelationID)
	case <-time.After(100 * time.Millisecond):
	}
	h.release("a")
	h.waitHandled(t, 1)
	c.expectMetadataReplies(t, []string{"inline-a", "fast-b"}, 1)

	// Behind a reply the writer holds, the reader reads on.
	ids := []string{"slow-c", "inline-d", "fast-e"}
	c.writeMetadataReqs(ids, 10)
	h.waitHandled(t, len(ids))
	h.release("d")
	h.release("c")
	c.expectMetadataReplies(t, ids, 10)
}

// writeMetadataReqs pipelines one Metadata request per client ID, with
// correlation IDs from corr on, in a single write.
func (c *client) writeMetadataReqs(ids []string, corr int32) {
	var pipelined []byte
	for i, id := range ids {
		pipelined = append(pipelined, frame(id, metadataReq(12), corr+int32(i))...)
	}
	c.write(pipelined)
}

// expectMetadataReplies reads the responses to writeMetadataReqs in order.
func (c *client) expectMetadataReplies(t *testing.T, ids []string, corr int32) {
	t.Helper()
	for i, id := range ids {
		if got := c.recvMetadata(12, corr+int32(i)); got != id {
			t.Fatalf("response %d is for %q, want %q", i, got, id)
		}
	}
}

// TestShutdownWaitsForInlineReply: a graceful shutdown waits for an inline
// reply the reader is waiting for, as for one held by the writer, and
// the reply still goes out.
func TestShutdownWaitsForInlineReply(t *testing.T) {
	h := newHandler()
	s, addr := start(t, Config{IdleTimeout: time.Minute}, h)
	c := dial(t, addr)
	c.write(frame("gatedinline-z", metadataReq(12), 1))
	h.waitHandled(t, 1)
	done := shutdownAsync(t, s)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while an inline reply was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	h.release("z")
	if got := c.recvMetadata(12, 1); got != "gatedinline-z" {
		t.Fatalf("got %q", got)
	}
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if len(h.ctxDone) != 0 {
		t.Fatal("a graceful shutdown cancelled the inline reply")
	}
}

// shutdownAsync starts a graceful Shutdown (bounded by waitLimit) and
// returns once the server is closing; Shutdown's result arrives on the
// channel.
func shutdownAsync(t *testing.T, s *Server) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	waitFor(t, "the server to start shutting down", s.isClosing)
	return done
}
