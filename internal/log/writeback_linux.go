//go:build linux && (amd64 || arm64 || riscv64 || loong64)

// Only 64-bit ports: there sync_file_range takes its offset and length in
// one register each; 32-bit ports split them (and arm has no such syscall
// number at all), so they fall back to the kernel's own writeback.

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
