package server

import (
	"math/bits"
	"sync"
)

// Request frames are read into pooled buffers: a produce request is usually
// hundreds of KiB, and allocating it fresh costs a zeroing pass over memory
// that is then overwritten by the read (12% of the broker's CPU under a
// 1 KiB-record produce load before pooling). Buffers come in power-of-two
// classes from 4 KiB to 64 MiB; smaller frames are allocated normally, larger
// ones are not kept.
const (
	minPooledShift = 12
	maxPooledShift = 26
)

var framePools [maxPooledShift - minPooledShift + 1]sync.Pool

func poolClass(size int) (int, bool) {
	if size <= 1<<minPooledShift {
		return 0, false
	}
	shift := bits.Len(uint(size - 1))
	if shift > maxPooledShift {
		return 0, false
	}
	return shift - minPooledShift, true
}

// getFrame returns a buffer of length size, pooled when its class allows.
func getFrame(size int) []byte {
	class, ok := poolClass(size)
	if !ok {
		return make([]byte, size)
	}
	if p, _ := framePools[class].Get().(*[]byte); p != nil {
		return (*p)[:size]
	}
	return make([]byte, size, 1<<(class+minPooledShift))
}

// putFrame returns a buffer from getFrame to its pool. The caller must hold
// no references into it.
func putFrame(b []byte) {
	class, ok := poolClass(cap(b))
	if !ok || cap(b) != 1<<(class+minPooledShift) {
		return
	}
	b = b[:0]
	framePools[class].Put(&b)
}
