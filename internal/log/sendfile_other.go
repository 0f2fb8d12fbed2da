//go:build !linux

package log

import (
	"errors"
	"syscall"
)

const sendfileSupported = false

func sendfile(syscall.RawConn, *ReadResult) (int64, error) {
	return 0, errors.New("sendfile not supported on this platform")
}
