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

// inMemoryFS reports whether dir is on tmpfs or ramfs.
func inMemoryFS(dir string) bool {
	const tmpfsMagic, ramfsMagic = 0x01021994, 0x858458f6
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	t := uint32(st.Type) // int32 on some ports, int64 on others
	return t == tmpfsMagic || t == ramfsMagic
}
