package log

import "os"

// Early writeback: once an append leaves WritebackBytes of whole pages in
// the active segment that have not been handed to the kernel for writing,
// a background worker asks the kernel to start writing them
// (sync_file_range with SYNC_FILE_RANGE_WRITE on Linux). This does not wait
// for the disk and promises no durability; the recovery point and Sync are
// unchanged. It keeps the page cache's dirty set small: left alone, dirty
// pages pile up until vm.dirty_background_ratio and the kernel then
// throttles every writer (balance_dirty_pages), which showed up as appends
// stalling for 30-100 ms at 600 MB/s. The data stays in the page cache for
// readers.

// pageSize is the granularity of writeback requests: a partly written last
// page is left for the next request, so it is not written twice.
const pageSize = 4096

type writebackReq struct {
	seg      *segment // a reference is held until the request is done
	from, to int64
}

// writebackQueue is how many requests may wait for a log's worker; when it
// is full no request is made, so an append never waits for it, and the
// pages are left for the next request, which then covers them too.
const writebackQueue = 16

// maybeStartWriteback is called by the appender after publishing an append
// to s that ended at size. l.wbSeg, l.wbPos and l.wbReqs are
// appender-owned; the worker goroutine is started with the first request
// and ends with the log (Close and crash wait for l.wg after closing
// l.stop, holding appendMu, so no request can follow).
func (l *Log) maybeStartWriteback(s *segment, size int64) {
	n := l.cfg.WritebackBytes
	if n <= 0 || !writebackSupported {
		return
	}
	if l.wbSeg != s {
		l.wbSeg, l.wbPos = s, 0
	}
	end := size &^ (pageSize - 1)
	if end-l.wbPos < n {
		return
	}
	if l.wbReqs == nil {
		l.wbReqs = make(chan writebackReq, writebackQueue)
		l.wg.Add(1)
		go l.writebackWorker(l.wbReqs)
	}
	s.incRef()
	select {
	case l.wbReqs <- writebackReq{seg: s, from: l.wbPos, to: end}:
		l.wbPos = end
	default:
		s.decRef()
	}
}

// testHookWriteback, when set before the first request, sees every
// request the worker carries out and its result.
var testHookWriteback func(path string, from, to int64, err error)

func (l *Log) writebackWorker(reqs chan writebackReq) {
	defer l.wg.Done()
	for {
		select {
		case r := <-reqs:
			err := startWriteback(r.seg.log, r.from, r.to-r.from)
			if testHookWriteback != nil {
				testHookWriteback(r.seg.logPath, r.from, r.to, err)
			}
			r.seg.decRef()
		case <-l.stop:
			for {
				select {
				case r := <-reqs:
					r.seg.decRef()
				default:
					return
				}
			}
		}
	}
}

// startWriteback asks the kernel to start writing n bytes of f at off. It
// is advisory: callers ignore the error (a failing disk is reported by the
// next fsync, which is what durability rests on).
func startWriteback(f *os.File, off, n int64) error {
	return withFD(f, func(fd uintptr) error { return syncFileRangeWrite(fd, off, n) })
}

// withFD runs fn on f's file descriptor (kept open meanwhile) and returns
// its error.
func withFD(f *os.File, fn func(fd uintptr) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(fd) }); err != nil {
		return err
	}
	return ferr
}
