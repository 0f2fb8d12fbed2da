package log

import (
	"fmt"
	"io"
	"syscall"
)

const sendfileSupported = true

// maxSendfileChunk keeps each sendfile call below Linux's per-call limit.
const maxSendfileChunk = 1 << 30

// sendfile copies r's range from its file to the socket behind out with
// sendfile(2) and an explicit offset, waiting for writability as needed.
func sendfile(out syscall.RawConn, r *ReadResult) (int64, error) {
	in, err := r.File.SyscallConn()
	if err != nil {
		return 0, err
	}
	var written int64
	var sendErr error
	ctlErr := in.Control(func(infd uintptr) {
		werr := out.Write(func(outfd uintptr) bool {
			for written < r.Size {
				off := r.Pos + written
				n, err := syscall.Sendfile(int(outfd), int(infd), &off, int(min(r.Size-written, maxSendfileChunk)))
				if n > 0 {
					written += int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
					continue
				case err != nil:
					sendErr = fmt.Errorf("sendfile %s: %w", r.File.Name(), err)
					return true
				case n == 0:
					sendErr = io.ErrUnexpectedEOF // the file is shorter than the range
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = werr
		}
	})
	if sendErr == nil {
		sendErr = ctlErr
	}
	return written, sendErr
}
