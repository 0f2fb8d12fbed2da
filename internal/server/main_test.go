package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait on a condition; tests normally finish far
// sooner.
const waitLimit = 10 * time.Second

// testHandler serves ApiVersions and Metadata. What it does with a Metadata
// request depends on the client ID:
//
//	"noreply"       no response (a nil Reply, as for acks=0)
//	"slow-NAME"     the reply waits until release(NAME) or the server's context
//	                ends, as a long poll does
//	"inline-NAME"   the same, marked Inline (the reader may wait for it)
//	"gated-NAME"    the reply waits until release(NAME) only, as an fsync does
//	"gatedinline-NAME" the same, marked Inline
//	"body-NAME"     the reply is the pre-encoded Body registered with setBody(NAME)
//	anything else   an immediate reply
//
// Every Metadata reply carries the client ID as its ClusterID so the client
// can tell the responses apart.
type testHandler struct {
	mu       sync.Mutex
	gates    map[string]chan struct{}
	bodies   map[string][]Part
	released map[string]int // body-NAME: how often Release was called

	handled chan *RequestContext // every request, in the order handled
	ctxDone chan string          // slow replies that ended because the server context did
}

func newHandler() *testHandler {
	return &testHandler{
		gates:    map[string]chan struct{}{},
		bodies:   map[string][]Part{},
		released: map[string]int{},
		handled:  make(chan *RequestContext, 1000),
		ctxDone:  make(chan string, 100),
	}
}

func (h *testHandler) Versions(key int16) (int16, int16, bool) {
	switch key {
	case kmsg.ApiVersions.Int16():
		return 0, 4, true
	case kmsg.Metadata.Int16():
		return 0, 12, true
	}
	return 0, 0, false
}

func (h *testHandler) gate(name string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	g, ok := h.gates[name]
	if !ok {
		g = make(chan struct{})
		h.gates[name] = g
	}
	return g
}

func (h *testHandler) release(name string) { close(h.gate(name)) }

func (h *testHandler) setBody(name string, parts []Part) {
	h.mu.Lock()
	h.bodies[name] = parts
	h.mu.Unlock()
}

func (h *testHandler) releases(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.released[name]
}

func (h *testHandler) Handle(ctx context.Context, rc *RequestContext, req kmsg.Request) Reply {
	h.handled <- rc
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		if lo, hi, _ := h.Versions(rc.APIKey); rc.APIVersion < lo || rc.APIVersion > hi {
			resp.ErrorCode = kerr.UnsupportedVersion.Code
		}
		for _, k := range []int16{kmsg.ApiVersions.Int16(), kmsg.Metadata.Int16()} {
			lo, hi, _ := h.Versions(k)
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: lo, MaxVersion: hi})
		}
		return func() Response { return Response{Msg: resp} }
	case *kmsg.MetadataRequest:
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		id := rc.ClientID
		resp.ClusterID = &id
		switch {
		case id == "noreply":
			return nil
		case strings.HasPrefix(id, "slow-"), strings.HasPrefix(id, "inline-"),
			strings.HasPrefix(id, "gated-"), strings.HasPrefix(id, "gatedinline-"):
			mode, name, _ := strings.Cut(id, "-")
			g := h.gate(name)
			var ends <-chan struct{} // nil for gated: only release ends the wait
			if !strings.HasPrefix(mode, "gated") {
				ends = ctx.Done()
			}
			reply := func() Response {
				select {
				case <-g:
				case <-ends:
					h.ctxDone <- name
				}
				return Response{Msg: resp}
			}
			if strings.HasSuffix(mode, "inline") {
				return rc.Inline(reply)
			}
			return reply
		case strings.HasPrefix(id, "body-"):
			name := strings.TrimPrefix(id, "body-")
			h.mu.Lock()
			parts := h.bodies[name]
			h.mu.Unlock()
			return func() Response {
				return Response{Body: parts, Release: func() {
					h.mu.Lock()
					h.released[name]++
					h.mu.Unlock()
				}}
			}
		case strings.HasPrefix(id, "fast"):
			// Complete now: written by the reader when nothing is queued
			// before it, else by the writer in turn.
			return rc.Ready(Response{Msg: resp})
		}
		return func() Response { return Response{Msg: resp} }
	}
	panic(fmt.Sprintf("test handler got %T", req))
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start serves h on a fresh 127.0.0.1 listener; the server is shut down at
// the end of the test.
func start(t *testing.T, cfg Config, h *testHandler) (*Server, string) {
	t.Helper()
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 1 << 20
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, h, discard())
	s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, ln.Addr().String()
}

// client is a raw Kafka protocol connection.
type client struct {
	t  *testing.T
	nc net.Conn
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

// frame encodes req as a complete frame, size prefix included.
func frame(clientID string, req kmsg.Request, corr int32) []byte {
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)).AppendRequest(nil, req, corr)
}

func metadataReq(version int16) *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = version
	return r
}

func (c *client) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(clientID string, req kmsg.Request, corr int32) {
	c.t.Helper()
	c.write(frame(clientID, req, corr))
}

// readFrame reads one response frame (without its size prefix).
func (c *client) readFrame() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 256<<20 {
		return nil, fmt.Errorf("response frame of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.nc, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// recv reads a response to a request of req's key and version, checks its
// correlation ID and header, and decodes it.
func (c *client) recv(req kmsg.Request, corr int32) kmsg.Response {
	c.t.Helper()
	b, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("reading response %d: %v", corr, err)
	}
	if len(b) < 4 {
		c.t.Fatalf("response of %d bytes", len(b))
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		c.t.Fatalf("response has correlation ID %d, want %d", got, corr)
	}
	b = b[4:]
	if req.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		// Response header v1: an empty tagged-field section.
		if len(b) == 0 || b[0] != 0 {
			c.t.Fatalf("flexible response header without an empty tag section: % x", b[:min(len(b), 8)])
		}
		b = b[1:]
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(b); err != nil {
		c.t.Fatalf("decoding %s v%d response %d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), corr, err)
	}
	return resp
}

// recvMetadata reads a Metadata response and returns its ClusterID, which
// the test handler sets to the request's client ID.
func (c *client) recvMetadata(version int16, corr int32) string {
	c.t.Helper()
	resp := c.recv(metadataReq(version), corr).(*kmsg.MetadataResponse)
	if resp.ClusterID == nil {
		c.t.Fatalf("response %d has no cluster ID", corr)
	}
	return *resp.ClusterID
}

// expectClosed reads until the server closes the connection; it fails if
// the server sends anything or keeps the connection open.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	var buf [512]byte
	n, err := c.nc.Read(buf[:])
	if n > 0 {
		c.t.Fatalf("server sent %d bytes instead of closing: % x", n, buf[:min(n, 32)])
	}
	if !isClosedErr(err) {
		c.t.Fatalf("connection not closed by the server: %v", err)
	}
}

// drainUntilClosed reads and discards until the server closes the
// connection.
func (c *client) drainUntilClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	_, err := io.Copy(io.Discard, c.nc)
	if err != nil && !isClosedErr(err) {
		c.t.Fatalf("connection not closed by the server: %v", err)
	}
}

func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// waitHandled waits until n requests have been handled and returns them.
func (h *testHandler) waitHandled(t *testing.T, n int) []*RequestContext {
	t.Helper()
	var out []*RequestContext
	timeout := time.After(waitLimit)
	for len(out) < n {
		select {
		case rc := <-h.handled:
			out = append(out, rc)
		case <-timeout:
			t.Fatalf("%d of %d requests handled", len(out), n)
		}
	}
	return out
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
