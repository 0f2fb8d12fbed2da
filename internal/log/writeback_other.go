//go:build !(linux && (amd64 || arm64 || riscv64 || loong64))

package log

import "errors"

const writebackSupported = false

func syncFileRangeWrite(uintptr, int64, int64) error {
	return errors.New("early writeback not supported on this platform")
}
