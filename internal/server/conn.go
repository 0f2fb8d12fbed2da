package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsKey is special-cased by the protocol: its response header is
// always v0, and an unsupported version still gets an answer (KIP-511).
const apiVersionsKey = 18

type conn struct {
	s        *Server
	nc       net.Conn
	id       uint64
	stopping atomic.Bool

	// Replies are written by the writer goroutine, or by the reader for a
	// Ready reply when queued is zero: every reply handed to the writer
	// before it has been written then, so the order holds. Only the
	// reader adds to queued; the writer subtracts after writing.
	wmu    sync.Mutex // one writer on the socket at a time
	queued atomic.Int32
}

type pending struct {
	corrID     int32
	version    int16
	flexHeader bool
	reply      Reply
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	return &conn{s: s, nc: nc, id: id}
}

// stopReading makes the read loop return after the frame it is reading, so
// that in-flight requests finish and the connection then closes.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

// A connection runs two goroutines joined by a bounded channel: the reader
// reads, decodes and handles requests one at a time in arrival order, as a
// Kafka broker does per connection (so a producer's pipelined requests are
// appended in order), and the writer writes the replies in order as they
// complete. Handle returns quickly: what waits (long polls, fsyncs) waits in
// the reply, in the writer, so it does not hold up the next request; a reply
// that is complete at once (RequestContext.Ready) is written by the reader
// itself when the writer has nothing queued.
// Handling in the reader rather than in a goroutine of its own saves a
// goroutine hand-off per request, which on small requests cost more (in
// context switches) than overlapping the next read with the handling saved.
func (c *conn) serve() {
	replies := make(chan pending, c.s.cfg.MaxInFlight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(replies)
	}()
	err := c.readLoop(replies)
	close(replies)
	<-writerDone
	c.nc.Close()
	if err != nil && !c.stopping.Load() && !isClosedConn(err) {
		c.s.log.Info("connection closed", "conn", c.id, "remote", c.nc.RemoteAddr().String(), "reason", err)
	}
}

func isClosedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// readLoop reads, decodes and handles frames until the peer goes away, a
// malformed frame arrives, or the server stops.
func (c *conn) readLoop(replies chan<- pending) error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	var wbuf []byte // for the replies written here (Ready ones)
	for {
		if c.s.cfg.IdleTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		}
		if c.stopping.Load() {
			// stopReading may have run just before the deadline above
			// replaced its own: never wait for the idle timeout then.
			c.nc.SetReadDeadline(time.Now())
		}
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !c.stopping.Load() {
				return fmt.Errorf("idle for %v (connections.max.idle.ms)", c.s.cfg.IdleTimeout)
			}
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		// Reject before allocating: socket.request.max.bytes.
		if size < 0 || size > c.s.cfg.MaxRequestBytes {
			return fmt.Errorf("frame of %d bytes exceeds socket.request.max.bytes=%d", size, c.s.cfg.MaxRequestBytes)
		}
		if size < 10 {
			return fmt.Errorf("frame of %d bytes is shorter than a request header", size)
		}
		frame := getFrame(int(size))
		if _, err := io.ReadFull(br, frame); err != nil {
			return fmt.Errorf("reading %d-byte frame: %w", size, err)
		}
		p, req, rc, err := c.decode(frame)
		if err != nil {
			putFrame(frame)
			return err
		}
		reply := c.s.handler.Handle(c.s.ctx, rc, req)
		putFrame(frame) // Handle keeps no reference into it (see Handler)
		if reply == nil {
			continue
		}
		p.reply = reply
		if rc.inline && c.queued.Load() == 0 {
			if err := c.writeReply(&wbuf, p); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			continue
		}
		c.queued.Add(1)
		replies <- p
	}
}

// writeReply writes p's response under wmu, reusing *buf, and releases it.
func (c *conn) writeReply(buf *[]byte, p pending) error {
	resp := p.reply()
	c.wmu.Lock()
	var err error
	*buf, err = c.write((*buf)[:0], p, resp)
	c.wmu.Unlock()
	if cap(*buf) > 1<<20 {
		*buf = nil // don't pin a huge buffer for the life of the connection
	}
	if resp.Release != nil {
		resp.Release()
	}
	return err
}

// decode parses the request header and body of one frame.
func (c *conn) decode(frame []byte) (pending, kmsg.Request, *RequestContext, error) {
	rc, req, err := DecodeRequest(frame, c.s.handler.Versions)
	if err != nil {
		return pending{}, nil, nil, err
	}
	rc.ConnID, rc.ClientAddr = c.id, c.nc.RemoteAddr()
	p := pending{corrID: rc.CorrelationID, version: req.GetVersion(),
		flexHeader: req.IsFlexible() && rc.APIKey != apiVersionsKey}
	return p, req, rc, nil
}

// DecodeRequest parses one request frame (without its size prefix): the
// request header v0-v2 and the body with kmsg. versions reports the
// supported range of an API key. An ApiVersions request of an unsupported
// version is returned as an empty v0 request (KIP-511); any other
// unsupported or unknown request is an error, after which the connection
// must be closed.
func DecodeRequest(frame []byte, versions func(key int16) (min, max int16, ok bool)) (*RequestContext, kmsg.Request, error) {
	if len(frame) < 10 {
		return nil, nil, fmt.Errorf("frame of %d bytes is shorter than a request header", len(frame))
	}
	key := int16(binary.BigEndian.Uint16(frame[0:]))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corrID := int32(binary.BigEndian.Uint32(frame[4:]))
	clientLen := int(int16(binary.BigEndian.Uint16(frame[8:])))
	off := 10
	var clientID string
	if clientLen > 0 {
		if off+clientLen > len(frame) {
			return nil, nil, fmt.Errorf("request header: client id length %d overruns frame", clientLen)
		}
		clientID = string(frame[off : off+clientLen])
		off += clientLen
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, nil, fmt.Errorf("unknown API key %d (client %q)", key, clientID)
	}
	rc := &RequestContext{ClientID: clientID, APIKey: key, APIVersion: version, CorrelationID: corrID}
	lo, hi, ok := versions(key)
	if !ok || version < lo || version > hi {
		if key != apiVersionsKey {
			return nil, nil, fmt.Errorf("unsupported version %d of %s (client %q)", version, kmsg.NameForKey(key), clientID)
		}
		req.SetVersion(0)
		return rc, req, nil
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		// Request header v2: tagged fields after the client id.
		n, ok := skipTags(frame[off:])
		if !ok {
			return nil, nil, fmt.Errorf("malformed tagged fields in %s request header", kmsg.NameForKey(key))
		}
		off += n
	}
	if err := req.ReadFrom(frame[off:]); err != nil {
		return nil, nil, fmt.Errorf("malformed %s v%d request: %w", kmsg.NameForKey(key), version, err)
	}
	return rc, req, nil
}

// skipTags skips a tagged-field section and returns its length.
func skipTags(b []byte) (int, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return 0, false
	}
	off := w
	for i := uint64(0); i < n; i++ {
		_, w = binary.Uvarint(b[off:])
		if w <= 0 {
			return 0, false
		}
		off += w
		size, w := binary.Uvarint(b[off:])
		if w <= 0 || size > uint64(len(b)-off-w) {
			return 0, false
		}
		off += w + int(size)
	}
	return off, true
}

func (c *conn) writeLoop(replies <-chan pending) {
	var buf []byte
	failed := false
	for p := range replies {
		if failed {
			if resp := p.reply(); resp.Release != nil {
				resp.Release()
			}
			c.queued.Add(-1)
			continue
		}
		err := c.writeReply(&buf, p)
		c.queued.Add(-1) // after the write: the reader may write the next one itself
		if err != nil {
			failed = true
			if !isClosedConn(err) {
				c.s.log.Info("write failed; closing connection", "conn", c.id, "err", err)
			}
			c.nc.Close() // unblocks the reader
		}
	}
}

func (c *conn) write(buf []byte, p pending, resp Response) ([]byte, error) {
	if c.s.cfg.IdleTimeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	}
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(p.corrID))
	if p.flexHeader {
		buf = append(buf, 0) // response header v1: no tagged fields
	}
	if resp.Msg != nil {
		resp.Msg.SetVersion(p.version)
		buf = resp.Msg.AppendTo(buf)
		binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
		_, err := c.nc.Write(buf)
		return buf, err
	}
	total := int64(len(buf) - 4)
	for _, part := range resp.Body {
		if part.File != nil {
			total += part.Size
		} else {
			total += int64(len(part.Bytes))
		}
	}
	binary.BigEndian.PutUint32(buf, uint32(total))
	// Coalesce byte parts into writev calls; file parts go out with sendfile.
	bufs := net.Buffers{buf}
	for _, part := range resp.Body {
		if part.File == nil {
			bufs = append(bufs, part.Bytes)
			continue
		}
		if _, err := bufs.WriteTo(c.nc); err != nil {
			return buf, err
		}
		bufs = bufs[:0]
		if err := sendFile(c.nc, part.File, part.Pos, part.Size); err != nil {
			return buf, err
		}
	}
	_, err := bufs.WriteTo(c.nc)
	return buf, err
}

// sendFile copies size bytes of f at pos to the connection: with sendfile(2)
// on TCP, so record data never passes through user space, and with pread
// otherwise. It never uses the file's shared offset.
func sendFile(nc net.Conn, f *os.File, pos, size int64) error {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		_, err := io.Copy(nc, io.NewSectionReader(f, pos, size))
		return err
	}
	sc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	ctlErr := fc.Control(func(ffd uintptr) {
		werr := sc.Write(func(sfd uintptr) bool {
			for size > 0 {
				n, err := syscall.Sendfile(int(sfd), int(ffd), &pos, int(min(size, 1<<30)))
				if n > 0 {
					size -= int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
					continue
				case err != nil:
					sendErr = err
					return true
				case n == 0:
					sendErr = fmt.Errorf("sendfile: %s shrank under a read at %d", f.Name(), pos)
					return true
				}
			}
			return true
		})
		if werr != nil && sendErr == nil {
			sendErr = werr
		}
	})
	if ctlErr != nil {
		return ctlErr
	}
	return sendErr
}
