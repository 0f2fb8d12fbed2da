// Package server owns the network side of the broker: listeners, connections,
// Kafka request framing (size-prefixed frames, request header v0-v2, response
// header v0-v1), pipelining with responses in request order, idle timeouts and
// graceful shutdown. It decodes requests with kmsg and hands them to a Handler;
// it knows nothing about topics or logs.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestContext describes where a request came from.
type RequestContext struct {
	ConnID        uint64
	ClientAddr    net.Addr
	ClientID      string
	APIKey        int16
	APIVersion    int16 // as sent by the client (may be unsupported for ApiVersions)
	CorrelationID int32

	inline bool // Handle answered with Inline (or Ready)
}

// Ready returns a Reply for a response that is complete when Handle
// returns. The server may then write it from the connection's reading
// goroutine, sparing the hand-off to its writer (a goroutine wake-up and,
// on a busy machine, a context switch per request), when no earlier reply
// is still waiting to be written.
func (rc *RequestContext) Ready(resp Response) Reply {
	return rc.Inline(func() Response { return resp })
}

// Inline returns reply unchanged, marking it as one that the connection's
// reading goroutine may wait for and write itself (when no earlier reply
// is waiting), instead of handing it to the writer: a long poll, which no
// later request on the connection could overtake anyway, since replies go
// out in order. The connection reads its next request only once it is
// written, as Kafka's broker does; not for waits that later requests help
// end, such as a produce's fsync shared with the next appends.
func (rc *RequestContext) Inline(reply Reply) Reply {
	rc.inline = true
	return reply
}

// Part is one piece of a pre-encoded response body: bytes, or a file range
// that is sent with sendfile(2).
type Part struct {
	Bytes []byte
	File  *os.File
	Pos   int64
	Size  int64
}

// Response is what the connection writes back: either a kmsg message the
// server encodes, or a pre-encoded body in parts (the zero-copy fetch path).
type Response struct {
	Msg     kmsg.Response
	Body    []Part
	Release func() // called once the response has been written (or dropped)
}

// Reply yields the response to one request. The connection's writer calls it
// in request order, so a handler can start slow work (fsync, long-poll) and
// return a Reply that waits for it while the next request is read. A nil
// Reply means the request gets no response (Produce with acks=0).
type Reply func() Response

// Handler serves decoded requests.
type Handler interface {
	// Versions reports the supported version range of an API key.
	Versions(key int16) (min, max int16, ok bool)
	// Handle serves req (already decoded at rc.APIVersion, except that an
	// ApiVersions request of an unsupported version arrives decoded as v0).
	// kmsg aliases a request's byte fields (Produce records) to the frame,
	// which is reused once Handle returns: Handle and its Reply must not
	// keep references to them (strings are copies and may be kept).
	// ctx ends when the server begins to shut down: a reply that waits
	// for something that may take long (a fetch's long poll, a group's
	// rebalance) must then answer at once with what it has. Its response
	// is still written before the connection closes.
	Handle(ctx context.Context, rc *RequestContext, req kmsg.Request) Reply
}

// Config is the server's part of the broker configuration.
type Config struct {
	MaxRequestBytes int32         // socket.request.max.bytes
	IdleTimeout     time.Duration // connections.max.idle.ms
	MaxInFlight     int           // queued.max.requests, per connection
}

// Server accepts connections on one listener and serves them.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	nextID   uint64
	closing  bool
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	acceptWG sync.WaitGroup
}

// New returns a server that hands requests to h.
func New(cfg Config, h Handler, logger *slog.Logger) *Server {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 100
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, handler: h, log: logger, conns: make(map[*conn]struct{}), ctx: ctx, cancel: cancel}
}

// Serve accepts connections on ln until Shutdown. It returns at once; the
// accept loop runs in its own goroutine.
func (s *Server) Serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.acceptWG.Add(1)
	go func() {
		defer s.acceptWG.Done()
		var backoff time.Duration
		for {
			nc, err := ln.Accept()
			if err != nil {
				if s.isClosing() || errors.Is(err, net.ErrClosed) {
					return
				}
				// Temporary failure such as EMFILE: back off, keep serving.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			backoff = 0
			s.startConn(nc)
		}
	}()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.nextID++
	c := newConn(s, nc, s.nextID)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Shutdown stops accepting and reading, ends the waits of long polls and
// group rebalances (see Handler), lets every connection finish the requests
// it has already read (their responses are written), then closes the
// connections. Connections still busy when ctx ends are closed forcibly.
// A client that long-polls with a large max wait, or a group join waiting
// for a member that is gone, therefore no longer holds a shutdown up.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	s.acceptWG.Wait()
	for _, c := range conns {
		c.stopReading()
	}
	s.cancel() // long polls and group waits answer now
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
