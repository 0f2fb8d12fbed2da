package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
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
	// FillWriters > 0 adds a fourth pass, page cache fill: that many
	// writers append blocks to files of their own at once, with no fsync,
	// for FillDuration (default MaxDuration) or until FillMaxBytes in all
	// (default: half the memory the kernel says is available). Unlike the
	// page cache pass, which rewrites memory the earlier passes have just
	// freed, it writes as much as a produce workload of that duration does,
	// so most of it lands in memory not touched lately: on virtual machines
	// whose host takes back the guest's free memory, that costs several
	// times more than rewriting recently freed memory, and it is the limit a
	// broker that keeps data in the page cache meets.
	FillWriters  int
	FillDuration time.Duration
	FillMaxBytes int64
	Progress     io.Writer
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
	if cfg.FillWriters > 0 {
		if err := fillPass(ctx, cfg, block, res); err != nil {
			return sum, fmt.Errorf("disk page cache fill: %w", err)
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "disk page cache fill, %d writers: %.1f MB/s (%.1f GB)\n",
				res.FillWriters, res.PageCacheFillMBPerSec, float64(res.FillBytes)/1e9)
		}
	}
	return sum, nil
}

// fillPass runs cfg.FillWriters writers appending block to new files in
// cfg.Dir at once, no fsync, until the time or byte bound, and records the
// total rate in res. The files are removed afterwards.
func fillPass(ctx context.Context, cfg DiskConfig, block []byte, res *DiskResult) error {
	dur := cfg.FillDuration
	if dur <= 0 {
		dur = cfg.MaxDuration
	}
	limit := cfg.FillMaxBytes
	if limit <= 0 {
		if avail := memAvailable(); avail > 0 {
			limit = avail / 2
		} else {
			limit = 4 << 30
		}
	}
	perWriter := max(limit/int64(cfg.FillWriters), int64(len(block)))
	written := make([]int64, cfg.FillWriters)
	errs := make([]error, cfg.FillWriters)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for i := range cfg.FillWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written[i], errs[i] = appendBlocks(ctx, cfg.Dir, block, perWriter, deadline, 0)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var total int64
	for _, n := range written {
		total += n
	}
	res.FillWriters = cfg.FillWriters
	res.FillBytes = total
	res.PageCacheFillMBPerSec = float64(total) / 1e6 / elapsed.Seconds()
	return nil
}

// memAvailable is MemAvailable of /proc/meminfo in bytes, or 0 where that
// cannot be read.
func memAvailable() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// diskPass appends blocks to a new file until the byte or time bound and
// returns MB/s, the final fsync included (see appendBlocks).
func diskPass(ctx context.Context, cfg DiskConfig, block []byte, fsyncEvery int64) (float64, error) {
	start := time.Now()
	written, err := appendBlocks(ctx, cfg.Dir, block, cfg.MaxBytes, start.Add(cfg.MaxDuration), fsyncEvery)
	if err != nil {
		return 0, err
	}
	return float64(written) / 1e6 / time.Since(start).Seconds(), nil
}

// appendBlocks appends block to a new file in dir until limit bytes or,
// after at least one block, the deadline, and returns how many bytes it
// wrote; the file is removed. fsyncEvery 0 never fsyncs; otherwise the file
// is fsynced whenever that many bytes were written since the last fsync,
// and once at the end.
func appendBlocks(ctx context.Context, dir string, block []byte, limit int64, deadline time.Time, fsyncEvery int64) (int64, error) {
	f, err := os.CreateTemp(dir, "samsa-disk-bench-*.log")
	if err != nil {
		return 0, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	var written, unsynced int64
	for written < limit {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		n, err := f.Write(block)
		written += int64(n)
		unsynced += int64(n)
		if err != nil {
			return written, fmt.Errorf("write %s at %d: %w", f.Name(), written, err)
		}
		if fsyncEvery > 0 && unsynced >= fsyncEvery {
			if err := f.Sync(); err != nil {
				return written, fmt.Errorf("fsync %s: %w", f.Name(), err)
			}
			unsynced = 0
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if fsyncEvery > 0 && unsynced > 0 {
		if err := f.Sync(); err != nil {
			return written, fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	return written, nil
}
