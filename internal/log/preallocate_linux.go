package log

import (
	"os"
	"syscall"
)

const preallocSupported = true

// fallocate reserves blocks with FALLOC_FL_KEEP_SIZE.
func fallocate(fd uintptr, off, n int64) error {
	const fallocFlKeepSize = 1
	for {
		err := syscall.Fallocate(int(fd), fallocFlKeepSize, off, n)
		if err != syscall.EINTR {
			return err
		}
	}
}

// allocatedBytes is the disk space fi's file holds, blocks reserved past
// its end included.
func allocatedBytes(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return 0
}
