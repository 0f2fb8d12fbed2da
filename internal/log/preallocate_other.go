//go:build !linux

package log

import "os"

const preallocSupported = false

func fallocate(fd uintptr, off, n int64) error { return nil }

func allocatedBytes(fi os.FileInfo) int64 { return 0 }

func inMemoryFS(dir string) bool { return false }
