package log

import (
	"io"
	"syscall"
)

// WriteTo writes the result's bytes to w. When w is a socket (it implements
// syscall.Conn, as *net.TCPConn does) the kernel copies them straight from
// the page cache with sendfile at Pos, never touching the file's shared
// offset, so concurrent readers of one segment do not interfere. Other
// writers (TLS connections, buffers) get a positional copy.
func (r *ReadResult) WriteTo(w io.Writer) (int64, error) {
	if r.Size == 0 || r.File == nil {
		return 0, nil
	}
	if sc, ok := w.(syscall.Conn); ok && sendfileSupported {
		if rc, err := sc.SyscallConn(); err == nil {
			return sendfile(rc, r)
		}
	}
	return io.Copy(w, io.NewSectionReader(r.File, r.Pos, r.Size))
}
