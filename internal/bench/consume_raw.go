package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumeRaw reads the partitions from the offsets in from until the offsets
// in until with plain Fetch requests, on one connection of our own per
// partition leader, and counts records from the record batch headers without
// decompressing or decoding them into records; for uncompressed batches it
// walks the records' length fields to count payload bytes. Responses are
// walked as they are read, through a 64 KiB buffer (fetch_stream.go). It is
// the consumer-side analogue of the null
// broker: what a connection can pull from the broker when the client does
// almost nothing with the data, as the loopback test's receiver does.
//
// For compressed batches, Bytes counts the batch's compressed size, not the
// payload.
func consumeRaw(ctx context.Context, cfg *ConsumeConfig, from, until map[int32]int64) (*Throughput, error) {
	return consumeRawWith(ctx, cfg, from, until, nil)
}

// valueVisitor sees the record values of uncompressed batches: value for
// each, as a fetch response is read, and end once the response has been
// read whole (the time the records were received).
type valueVisitor interface {
	value(v []byte)
	end()
}

// consumeRawWith is consumeRaw that also shows every record value to a visitor
// made by newVisitor for each connection (when not nil). With until nil it
// reads from every partition in from
// until ctx ends, which then is no error.
func consumeRawWith(ctx context.Context, cfg *ConsumeConfig, from, until map[int32]int64, newVisitor func() valueVisitor) (*Throughput, error) {
	cl, err := kgo.NewClient(cfg.ClientConfig.opts()...)
	if err != nil {
		return nil, err
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, cfg.Topic)
	cl.Close()
	if err != nil {
		return nil, err
	}
	t, ok := md.Topics[cfg.Topic]
	if !ok || t.Err != nil {
		return nil, fmt.Errorf("topic %s: %v", cfg.Topic, t.Err)
	}
	addrs := map[int32]string{}
	for _, b := range md.Brokers {
		addrs[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	byLeader := map[int32]map[int32]int64{} // leader -> partition -> next offset
	for p := range from {
		if until != nil && from[p] >= until[p] {
			continue
		}
		pd, ok := t.Partitions[p]
		if !ok || pd.Leader < 0 || addrs[pd.Leader] == "" {
			return nil, fmt.Errorf("partition %s/%d has no known leader", cfg.Topic, p)
		}
		if byLeader[pd.Leader] == nil {
			byLeader[pd.Leader] = map[int32]int64{}
		}
		byLeader[pd.Leader][p] = from[p]
	}

	var got Counter
	prog := startProgress(cfg.Progress, "consume-raw", &got, cfg.ProgressInterval, nil)
	defer prog.Stop()

	begin := time.Now()
	var wg sync.WaitGroup
	var errs []error
	var errMu sync.Mutex
	for leader, next := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := rawFetcher{cfg: cfg, addr: addrs[leader], topicID: t.ID, next: next, until: until, got: &got}
			if newVisitor != nil {
				f.visit = newVisitor() // one per connection: they run in parallel
			}
			if err := f.run(ctx); err != nil && !(until == nil && ctx.Err() != nil) {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("broker %d (%s): %w", leader, addrs[leader], err))
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return newThroughput(got.Records.Load(), got.Bytes.Load(), time.Since(begin)), errors.Join(errs...)
}

type rawFetcher struct {
	cfg     *ConsumeConfig
	addr    string
	topicID [16]byte
	next    map[int32]int64
	until   map[int32]int64 // nil: read until ctx ends
	got     *Counter
	visit   valueVisitor // may be nil

	conn    net.Conn
	br      *bufio.Reader // fetch responses are read through it
	corr    int32
	buf     []byte // request, then response; reused
	version int16  // Fetch version
}

func (f *rawFetcher) run(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return err
	}
	f.conn = conn
	defer conn.Close()
	// Unblock reads and writes when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	av := kmsg.NewPtrApiVersionsRequest() // v0: understood by every broker
	avResp := kmsg.NewPtrApiVersionsResponse()
	if err := f.roundTrip(av, avResp); err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	if err := kerr.ErrorForCode(avResp.ErrorCode); err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	f.version = -1
	for _, k := range avResp.ApiKeys {
		if k.ApiKey == 1 {
			f.version = min(k.MaxVersion, (&kmsg.FetchRequest{}).MaxVersion())
		}
	}
	if f.version < 4 {
		return fmt.Errorf("broker supports Fetch up to v%d; raw reads need v4+", f.version)
	}

	fetchMax, partMax := f.cfg.fetchSizes(true)
	lastData := time.Now()
	for len(f.next) > 0 {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(f.version)
		req.MaxWaitMillis = 500
		req.MinBytes = 1
		req.MaxBytes = fetchMax
		req.SessionEpoch = -1 // no fetch session: every request is full
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = f.cfg.Topic
		rt.TopicID = f.topicID
		for p, o := range f.next {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p
			rp.FetchOffset = o
			rp.PartitionMaxBytes = partMax
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		progressed := false
		var onValue func([]byte)
		if f.visit != nil {
			onValue = f.visit.value
		}
		err := f.fetchStreamed(req, onValue, func(w partitionWalk) error {
			if err := kerr.ErrorForCode(w.errorCode); err != nil {
				return fmt.Errorf("fetch %s/%d: %w", f.cfg.Topic, w.partition, err)
			}
			o, ok := f.next[w.partition]
			if !ok {
				return nil
			}
			if w.next > o {
				progressed = true
				f.got.Records.Add(w.records)
				f.got.Bytes.Add(w.payload)
			}
			if f.until != nil && w.next >= f.until[w.partition] {
				delete(f.next, w.partition)
			} else {
				f.next[w.partition] = w.next
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if f.visit != nil {
			f.visit.end()
		}
		if progressed {
			lastData = time.Now()
		} else if f.until != nil && time.Since(lastData) > f.cfg.IdleTimeout {
			return fmt.Errorf("no records for %v", f.cfg.IdleTimeout)
		}
	}
	return nil
}

// fetchStreamed sends a Fetch request and walks its response as it is read
// (see readFetchStream), calling done for every partition in it.
func (f *rawFetcher) fetchStreamed(req *kmsg.FetchRequest, onValue func([]byte), done func(partitionWalk) error) error {
	f.corr++
	f.buf = appendRequest(f.buf[:0], req, f.corr, "samsa-bench-raw-consumer")
	if _, err := f.conn.Write(f.buf); err != nil {
		return err
	}
	if f.br == nil {
		f.br = bufio.NewReaderSize(f.conn, streamBufferBytes)
	}
	fetchMax, _ := f.cfg.fetchSizes(true)
	r := &frameReader{br: f.br, left: 4, tmp: f.buf}
	size := int(r.int32())
	if r.err != nil {
		return r.err
	}
	if size < 4 || size > int(fetchMax)+(64<<20) {
		return fmt.Errorf("response size %d", size)
	}
	r.left = size
	if corr := r.int32(); r.err == nil && corr != f.corr {
		return fmt.Errorf("correlation ID %d, want %d", corr, f.corr)
	}
	r.skipTags(req.IsFlexible()) // response header v1
	from := func(p int32) int64 {
		if o, ok := f.next[p]; ok {
			return o
		}
		return math.MaxInt64 // not asked for: walk nothing
	}
	err := readFetchStream(r, req.GetVersion(), from, onValue, done)
	f.buf = r.tmp[:0]
	return err
}

// roundTrip sends req and reads its response into resp (whose slices then
// point into f.buf, valid until the next call).
func (f *rawFetcher) roundTrip(req kmsg.Request, resp kmsg.Response) error {
	f.corr++
	f.buf = appendRequest(f.buf[:0], req, f.corr, "samsa-bench-raw-consumer")
	if _, err := f.conn.Write(f.buf); err != nil {
		return err
	}
	fetchMax, _ := f.cfg.fetchSizes(true)
	body, buf, err := readResponse(f.conn, f.buf, int(fetchMax)+(64<<20), f.corr, req)
	f.buf = buf
	if err != nil {
		return err
	}
	resp.SetVersion(req.GetVersion())
	return resp.ReadFrom(body)
}

// recordPayload parses one record (after its length prefix) and returns
// its key plus value length and its value.
func recordPayload(b []byte) (int64, []byte, error) {
	varint := func() (int64, error) {
		v, k := binary.Varint(b)
		if k <= 0 {
			return 0, errors.New("bad varint in record")
		}
		b = b[k:]
		return v, nil
	}
	if len(b) < 1 {
		return 0, nil, errors.New("empty record")
	}
	b = b[1:]                           // attributes
	if _, err := varint(); err != nil { // timestamp delta
		return 0, nil, err
	}
	if _, err := varint(); err != nil { // offset delta
		return 0, nil, err
	}
	var total int64
	var value []byte
	for field := range 2 { // key, then value
		l, err := varint()
		if err != nil {
			return 0, nil, err
		}
		if l > int64(len(b)) {
			return 0, nil, fmt.Errorf("field length %d of %d bytes left", l, len(b))
		}
		if field == 1 {
			value = b[:max(l, 0)]
		}
		if l > 0 {
			total += l
			b = b[l:]
		}
	}
	return total, value, nil
}
