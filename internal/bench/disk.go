package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// DiskConfig describes the sequential write test of a directory.
type DiskConfig struct {
	Dir string
	// BlockBytes is the size of each write (default 1 MiB).
	BlockBytes int
	// MaxBytes and MaxDuration bound each of the three passes (defaults
	// 1 GiB and 3s): a pass stops at whichever comes first.
	MaxBytes    int64
	MaxDuration time.Duration
	// FsyncEveryBytes is the group-commit size of the third pass (default
	// 8 MiB).
	FsyncEveryBytes int64
	Progress        io.Writer
}

// RunDisk measures sequential append bandwidth to a fresh file in Dir three
// ways: fsync after each block, fsync after every FsyncEveryBytes, and page
// cache only (no fsync). Each pass appends to a new file, as a log segment
// does, so every fsync also has the file's growing size to persist.
func RunDisk(ctx context.Context, cfg DiskConfig) (*Summary, error) {
	if cfg.Dir == "" {
		return &Summary{Kind: "disk"}, errors.New("no directory")
	}
	if cfg.BlockBytes <= 0 {
		cfg.BlockBytes = 1 << 20
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 30
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 3 * time.Second
	}
	if cfg.FsyncEveryBytes <= 0 {
		cfg.FsyncEveryBytes = 8 << 20
	}
	res := &DiskResult{Dir: cfg.Dir, BlockBytes: cfg.BlockBytes, FsyncEveryBytes: cfg.FsyncEveryBytes}
	sum := &Summary{Kind: "disk", Disk: res}
	block := payload(cfg.BlockBytes, 2)
	passes := []struct {
		name  string
		every int64
		out   *float64
	}{
		{"fsync each block", int64(cfg.BlockBytes), &res.FsyncEachBlockMBPerSec},
		{fmt.Sprintf("fsync every %d MiB", cfg.FsyncEveryBytes>>20), cfg.FsyncEveryBytes, &res.FsyncEveryMBPerSec},
		// Last: on a fresh virtual machine the first touch of guest memory
		// is slow, and the earlier passes have recycled some page cache.
		{"page cache", 0, &res.PageCacheMBPerSec},
	}
	for _, p := range passes {
		mbps, err := diskPass(ctx, cfg, block, p.every)
		if err != nil {
			return sum, fmt.Errorf("disk %s: %w", p.name, err)
		}
		*p.out = mbps
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "disk %s: %.1f MB/s\n", p.name, mbps)
		}
	}
	return sum, nil
}

// diskPass appends blocks to a new file until the byte or time bound and
// returns MB/s. fsyncEvery 0 never fsyncs; otherwise the file is fsynced
// whenever that many bytes were written since the last fsync, and once at
// the end (inside the timing).
func diskPass(ctx context.Context, cfg DiskConfig, block []byte, fsyncEvery int64) (float64, error) {
	f, err := os.CreateTemp(cfg.Dir, "samsa-disk-bench-*.log")
	if err != nil {
		return 0, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	var written, unsynced int64
	start := time.Now()
	deadline := start.Add(cfg.MaxDuration)
	for written < cfg.MaxBytes {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := f.Write(block)
		if err != nil {
			return 0, fmt.Errorf("write %s at %d: %w", f.Name(), written, err)
		}
		written += int64(n)
		unsynced += int64(n)
		if fsyncEvery > 0 && unsynced >= fsyncEvery {
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("fsync %s: %w", f.Name(), err)
			}
			unsynced = 0
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if fsyncEvery > 0 && unsynced > 0 {
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	return float64(written) / 1e6 / time.Since(start).Seconds(), nil
}
