package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// LoopbackConfig describes the loopback TCP test.
type LoopbackConfig struct {
	// Dir holds the temporary source file (default: the system temp dir).
	Dir string
	// FileBytes is the size of the source file, sent over and over
	// (default 64 MiB: large, but surely in page cache).
	FileBytes int64
	// Duration of the measurement (default 3s).
	Duration time.Duration
	// ReadBufferBytes is the receiver's read size (default 64 KiB, the
	// fastest here: 4.9-5.9 GB/s, against 2.5-2.8 GB/s with 1 MiB or 8 MiB
	// reads whose buffer falls out of the CPU caches, and 4.0-4.4 GB/s with
	// 16 KiB reads that cost more system calls).
	ReadBufferBytes int
}

// RunLoopback measures TCP bandwidth over 127.0.0.1: a sender copies a
// page-cached file to the socket with sendfile (Go's *net.TCPConn.ReadFrom
// uses it for an *os.File source), a receiver reads and discards. This is
// the path a broker serving consumers from page cache takes, so it bounds
// consume throughput on this machine.
func RunLoopback(ctx context.Context, cfg LoopbackConfig) (*Summary, error) {
	res := &LoopbackResult{Method: "sendfile"}
	sum := &Summary{Kind: "loopback", Loopback: res}
	if cfg.FileBytes <= 0 {
		cfg.FileBytes = 64 << 20
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Second
	}
	if cfg.ReadBufferBytes <= 0 {
		cfg.ReadBufferBytes = 64 << 10
	}
	f, err := os.CreateTemp(cfg.Dir, "samsa-loopback-bench-*")
	if err != nil {
		return sum, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	chunk := payload(1<<20, 3)
	for n := int64(0); n < cfg.FileBytes; n += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			return sum, err
		}
	}
	// Read it once so that it is surely in page cache.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return sum, err
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		return sum, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return sum, err
	}
	defer ln.Close()

	var received atomic.Int64
	var wg sync.WaitGroup
	var recvErr error
	accepted := make(chan net.Conn, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			recvErr = err
			close(accepted)
			return
		}
		accepted <- c
		buf := make([]byte, cfg.ReadBufferBytes)
		for {
			n, err := c.Read(buf)
			received.Add(int64(n))
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					recvErr = err
				}
				return
			}
		}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return sum, err
	}
	tcp := conn.(*net.TCPConn)
	rc, ok := <-accepted
	if !ok {
		conn.Close()
		wg.Wait()
		return sum, recvErr
	}

	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var sendErr error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			sendErr = err
			break
		}
		// ReadFrom an *os.File is sendfile(2) on Linux.
		if _, err := tcp.ReadFrom(f); err != nil {
			sendErr = err
			break
		}
	}
	// Wait for the receiver to drain what was sent.
	_ = tcp.CloseWrite()
	wg.Wait()
	elapsed := time.Since(start)
	conn.Close()
	rc.Close()
	if sendErr == nil {
		sendErr = ctx.Err()
	}
	if err := errors.Join(sendErr, recvErr); err != nil {
		return sum, fmt.Errorf("loopback: %w", err)
	}
	res.Bytes = received.Load()
	res.Seconds = elapsed.Seconds()
	res.MBPerSec = float64(res.Bytes) / 1e6 / res.Seconds
	return sum, nil
}
