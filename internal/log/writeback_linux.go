package log

import "syscall"

const writebackSupported = true

// syncFileRangeWrite starts writeback of the dirty pages in the range
// without waiting for it (SYNC_FILE_RANGE_WRITE).
func syncFileRangeWrite(fd uintptr, off, n int64) error {
	const syncFileRangeWrite = 2
	_, _, errno := syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
