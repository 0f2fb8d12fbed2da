package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The raw clients (consume_raw.go, produce_raw.go) frame requests and
// responses themselves on a plain TCP connection; kmsg encodes and decodes
// the bodies.

// apiVersionsKey is the one API whose response header stays v0 even when
// the request is flexible (KIP-511).
const apiVersionsKey = 18

// appendRequestHeader appends the size placeholder and request header
// (v1, or v2 for flexible requests) for req with correlation ID corr.
// The caller appends the body and then fills in the size with setFrameSize.
func appendRequestHeader(dst []byte, req kmsg.Request, corr int32, clientID string) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	if req.IsFlexible() {
		dst = append(dst, 0) // no header tags
	}
	return dst
}

// appendRequest appends req, framed with its size and header.
func appendRequest(dst []byte, req kmsg.Request, corr int32, clientID string) []byte {
	start := len(dst)
	dst = appendRequestHeader(dst, req, corr, clientID)
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// readResponse reads one response frame of at most maxSize bytes from r into
// buf (grown if need be) and checks its correlation ID. It returns the
// response body, after the header, and the buffer to reuse next time.
func readResponse(r io.Reader, buf []byte, maxSize int, corr int32, req kmsg.Request) (body, newBuf []byte, err error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, buf, err
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 || n > maxSize {
		return nil, buf, fmt.Errorf("response size %d", n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	b := buf[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, buf, err
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		return nil, buf, fmt.Errorf("correlation ID %d, want %d", got, corr)
	}
	b = b[4:]
	// Response header v1 (flexible, except for ApiVersions) has tags.
	if req.IsFlexible() && req.Key() != apiVersionsKey {
		if b, err = skipTags(b); err != nil {
			return nil, buf, err
		}
	}
	return b, buf, nil
}

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	tags, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("bad response header tags")
	}
	b = b[k:]
	for range tags {
		if _, k = binary.Uvarint(b); k <= 0 {
			return nil, errors.New("bad response header tag")
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errors.New("bad response header tag size")
		}
		b = b[k+int(l):]
	}
	return b, nil
}
