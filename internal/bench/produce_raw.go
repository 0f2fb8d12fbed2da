package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Raw produce (ProduceConfig.Raw) is the producer-side analogue of the raw
// fetcher: each producer is one TCP connection per partition leader, a
// writer goroutine sending pre-built Produce requests and a reader goroutine
// matching the responses to them in order. Every request carries one record
// batch for each partition of the leader, as a producer whose batches for
// every partition filled during one linger would send. The batches are built
// once before the clock starts, from a small pool per partition, and sent
// again and again: they are non-idempotent (producer ID -1, base offset 0),
// so resending the same bytes is valid Kafka and the broker assigns new
// offsets each time. What remains for the client per request is a 12-byte
// header and a writev, so the figure is the broker's and the network's,
// not the client library's.

const (
	rawProducerClientID = "samsa-bench-raw-producer"
	// rawProduceTimeoutMs is the Produce request's timeout.
	rawProduceTimeoutMs = 30_000
	// rawIOTimeout bounds one write of a request and the wait for one
	// response: a broker that stops answering fails the run.
	rawIOTimeout = rawProduceTimeoutMs*time.Millisecond + 30*time.Second
	// rawPoolBytes bounds the payload of the pre-built requests of one
	// leader; rawPoolMax is the most distinct batches per partition.
	rawPoolBytes = 64 << 20
	rawPoolMax   = 4
	// rawMaxResponse bounds a response frame (Produce responses are small).
	rawMaxResponse = 16 << 20
	// recordBatchHeaderSize is the size of a v2 record batch before its
	// records; batchLength counts from byte 12, the CRC from byte 21.
	recordBatchHeaderSize = 61
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func varintLen(v int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], v)
}

// recordBodySize is the encoded size, after its length prefix, of a keyless
// record without headers whose value has valueSize bytes.
func recordBodySize(offsetDelta, valueSize int) int {
	return 1 + // attributes
		1 + // timestamp delta 0
		varintLen(int64(offsetDelta)) +
		1 + // null key
		varintLen(int64(valueSize)) + valueSize +
		1 // no headers
}

// batchRecords returns how many keyless records with values of valueSize
// bytes fit in an uncompressed v2 record batch of at most batchBytes, and
// at least one.
func batchRecords(valueSize, batchBytes int) int {
	size := recordBatchHeaderSize
	for n := 0; ; n++ {
		body := recordBodySize(n, valueSize)
		rs := varintLen(int64(body)) + body
		if n > 0 && size+rs > batchBytes {
			return n
		}
		size += rs
	}
}

// buildRecordBatch returns a v2 record batch of n keyless records, each
// with value, all stamped ts (milliseconds), compressed with comp unless it
// is nil, non-idempotent (producer ID -1) at base offset 0, with its CRC.
func buildRecordBatch(value []byte, n int, ts int64, comp kgo.Compressor) ([]byte, error) {
	if n <= 0 {
		return nil, fmt.Errorf("batch of %d records", n)
	}
	var recs []byte
	for i := range n {
		r := kmsg.Record{
			Length:      int32(recordBodySize(i, len(value))),
			OffsetDelta: int32(i),
			Value:       value,
		}
		if value == nil {
			r.Value = []byte{} // an empty value, not a null one
		}
		recs = r.AppendTo(recs)
	}
	var attrs int16
	if comp != nil {
		var buf bytes.Buffer
		out, codec := comp.Compress(&buf, recs)
		if codec < 0 {
			return nil, errors.New("compressing a record batch failed")
		}
		recs, attrs = out, int16(codec)
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(recordBatchHeaderSize - 12 + len(recs)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(n),
		Records:              recs,
	}
	out := b.AppendTo(make([]byte, 0, recordBatchHeaderSize+len(recs)))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out, nil
}

// rawRequest is an encoded Produce request without its first 12 bytes
// (size, API key, version, correlation ID), which each connection writes
// itself: rest is the client ID, header tags and body, shared read-only.
type rawRequest struct {
	size       uint32 // the frame size, after the size field
	rest       []byte
	partitions int
	records    int64
	bytes      int64 // record payload
}

// rawLeader is one partition leader and the requests for its partitions.
type rawLeader struct {
	node       int32
	addr       string
	partitions []int32
	version    int16 // Produce version every connection to it supports
	pool       []rawRequest
}

// rawProducers runs a raw produce workload.
type rawProducers struct {
	cfg      *ProduceConfig
	acks     int16
	comp     kgo.Compressor
	codec    string
	perBatch int

	topic   string
	topicID [16]byte
	leaders []*rawLeader
	ts      int64 // batch timestamp: build time, ms

	acked    Counter
	sent     atomic.Int64 // records written
	issued   atomic.Int64 // records reserved by writers (for cfg.Records)
	stopped  atomic.Bool
	cancel   context.CancelFunc
	firstErr atomic.Pointer[error]

	// paced: build each request when it is sent, of records due at
	// cfg.Rate and stamped with their due time in nanoseconds since
	// stampBase (see e2e_raw.go), instead of resending a pool.
	paced     bool
	stampBase time.Time
}

func newRawProducers(cfg *ProduceConfig) (*rawProducers, error) {
	_, acksName, err := parseAcks(cfg.Acks)
	if err != nil {
		return nil, err
	}
	codec, codecName, err := parseCompression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	comp, err := kgo.DefaultCompressor(codec)
	if err != nil {
		return nil, err
	}
	s := &rawProducers{cfg: cfg, comp: comp, codec: codecName, topic: cfg.Topic,
		perBatch: batchRecords(cfg.RecordSize, cfg.BatchBytes)}
	switch acksName {
	case "all":
		s.acks = -1
	case "1":
		s.acks = 1
	case "0":
		s.acks = 0
	}
	return s, nil
}

// fail records err as the run's error, unless one came first, and ends the
// run.
func (s *rawProducers) fail(err error) {
	s.firstErr.CompareAndSwap(nil, &err)
	s.cancel()
}

// reserve takes up to n of the records left to send under cfg.Records and
// returns how many it took (n when there is no record bound).
func (s *rawProducers) reserve(n int64) int64 {
	if s.cfg.Records <= 0 {
		return n
	}
	for {
		cur := s.issued.Load()
		take := min(n, s.cfg.Records-cur)
		if take <= 0 {
			return 0
		}
		if s.issued.CompareAndSwap(cur, cur+take) {
			return take
		}
	}
}

// lookup learns the topic's ID and the leader of each partition.
func (s *rawProducers) lookup(ctx context.Context) error {
	cl, err := kgo.NewClient(s.cfg.ClientConfig.opts()...)
	if err != nil {
		return err
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, s.topic)
	cl.Close()
	if err != nil {
		return err
	}
	t, ok := md.Topics[s.topic]
	if !ok || t.Err != nil {
		return fmt.Errorf("topic %s: %v", s.topic, t.Err)
	}
	s.topicID = t.ID
	addrs := map[int32]string{}
	for _, b := range md.Brokers {
		addrs[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	byNode := map[int32]*rawLeader{}
	for p, pd := range t.Partitions {
		if pd.Leader < 0 || addrs[pd.Leader] == "" {
			return fmt.Errorf("partition %s/%d has no known leader", s.topic, p)
		}
		l := byNode[pd.Leader]
		if l == nil {
			l = &rawLeader{node: pd.Leader, addr: addrs[pd.Leader], version: (&kmsg.ProduceRequest{}).MaxVersion()}
			byNode[pd.Leader] = l
			s.leaders = append(s.leaders, l)
		}
		l.partitions = append(l.partitions, p)
	}
	if len(s.leaders) == 0 {
		return fmt.Errorf("topic %s has no partitions", s.topic)
	}
	slices.SortFunc(s.leaders, func(a, b *rawLeader) int { return int(a.node - b.node) })
	for _, l := range s.leaders {
		slices.Sort(l.partitions)
	}
	return nil
}

// buildRequest encodes a Produce request to l with counts[i] records for
// partition l.partitions[i] (none: the partition is left out); seed makes
// its values differ from other requests'.
func (s *rawProducers) buildRequest(l *rawLeader, counts []int, seed uint64) (rawRequest, error) {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(l.version)
	req.Acks = s.acks
	req.TimeoutMillis = rawProduceTimeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = s.topic
	rt.TopicID = s.topicID
	r := rawRequest{}
	for i, p := range l.partitions {
		if counts[i] <= 0 {
			continue
		}
		value := payload(s.cfg.RecordSize, seed<<20+uint64(p))
		batch, err := buildRecordBatch(value, counts[i], s.ts, s.comp)
		if err != nil {
			return r, err
		}
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		r.partitions++
		r.records += int64(counts[i])
		r.bytes += int64(counts[i]) * int64(s.cfg.RecordSize)
	}
	req.Topics = append(req.Topics, rt)
	full := appendRequest(nil, req, 0, rawProducerClientID)
	r.size = uint32(len(full) - 4)
	r.rest = full[12:]
	return r, nil
}

// buildPool builds every leader's pool of full requests: one batch of
// perBatch records per partition, distinct batches in each request.
func (s *rawProducers) buildPool() error {
	s.ts = time.Now().UnixMilli()
	for _, l := range s.leaders {
		perRequest := len(l.partitions) * s.cfg.BatchBytes
		n := max(1, min(rawPoolMax, rawPoolBytes/max(1, perRequest)))
		counts := make([]int, len(l.partitions))
		for i := range counts {
			counts[i] = s.perBatch
		}
		for k := range n {
			r, err := s.buildRequest(l, counts, uint64(k+1))
			if err != nil {
				return err
			}
			l.pool = append(l.pool, r)
		}
	}
	return nil
}

// buildTail builds the last request under a record bound: n records, whole
// batches to the first partitions and the rest to the next.
func (s *rawProducers) buildTail(l *rawLeader, n int64) (rawRequest, error) {
	counts := make([]int, len(l.partitions))
	for i := range counts {
		c := min(n, int64(s.perBatch))
		counts[i] = int(c)
		n -= c
	}
	return s.buildRequest(l, counts, 0)
}

// rawConn is one producer's connection to one leader.
type rawConn struct {
	s    *rawProducers
	l    *rawLeader
	conn net.Conn
	// rate is in requests/s (0: as fast as possible).
	rate float64
	hist Histogram
	buf  []byte // response buffer
}

// rawPending is a request waiting for its response.
type rawPending struct {
	corr       int32
	sent       time.Time
	partitions int
	records    int64
	bytes      int64
	// barrier is the ApiVersions request that ends an acks=0 run.
	barrier bool
}

// dial connects to the leader and lowers l.version to what it supports.
func (c *rawConn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.l.addr)
	if err != nil {
		return err
	}
	c.conn = conn
	// Whatever ends the run unblocks this connection's reads and writes.
	context.AfterFunc(ctx, func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(rawIOTimeout))
	av := kmsg.NewPtrApiVersionsRequest() // v0: understood by every broker
	if _, err := conn.Write(appendRequest(nil, av, 0, rawProducerClientID)); err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	body, buf, err := readResponse(conn, nil, rawMaxResponse, 0, av)
	c.buf = buf
	if err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := resp.ReadFrom(body); err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	produceMax := int16(-1)
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 0 {
			produceMax = k.MaxVersion
		}
	}
	c.l.version = min(c.l.version, produceMax)
	if c.s.topicID == [16]byte{} {
		c.l.version = min(c.l.version, 12) // v13 names topics by ID only
	}
	if c.l.version < 3 {
		return fmt.Errorf("broker supports Produce up to v%d; record batches need v3+", produceMax)
	}
	if c.s.codec == "zstd" && c.l.version < 7 {
		return fmt.Errorf("broker supports Produce up to v%d; zstd needs v7+", c.l.version)
	}
	return conn.SetDeadline(time.Time{})
}

// write sends requests until the run stops, then closes pending.
func (c *rawConn) write(ctx context.Context, pending chan<- rawPending, slots chan struct{}) {
	defer close(pending)
	s := c.s
	expectAck := s.acks != 0
	lim := NewLimiter(nil, c.rate)
	var head [12]byte
	binary.BigEndian.PutUint16(head[4:], 0) // Produce
	binary.BigEndian.PutUint16(head[6:], uint16(c.l.version))
	var corr int32
	// send writes a pre-built Produce request with the next correlation ID.
	send := func(size uint32, rest []byte) error {
		corr++
		binary.BigEndian.PutUint32(head[0:], size)
		binary.BigEndian.PutUint32(head[8:], uint32(corr))
		if err := c.conn.SetWriteDeadline(time.Now().Add(rawIOTimeout)); err != nil {
			return err
		}
		bufs := net.Buffers{head[:], rest}
		_, err := bufs.WriteTo(c.conn)
		return err
	}
	for k := 0; !s.stopped.Load() && ctx.Err() == nil; k++ {
		req := &c.l.pool[k%len(c.l.pool)]
		n := s.reserve(req.records)
		if n == 0 {
			break
		}
		if n < req.records {
			tail, err := s.buildTail(c.l, n)
			if err != nil {
				s.fail(err)
				return
			}
			req = &tail
		}
		if _, err := lim.Wait(ctx); err != nil {
			return
		}
		if expectAck {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			pending <- rawPending{corr: corr + 1, sent: time.Now(), partitions: req.partitions, records: req.records, bytes: req.bytes}
		}
		if err := send(req.size, req.rest); err != nil {
			s.fail(fmt.Errorf("produce to %s: %w", c.l.addr, err))
			return
		}
		s.sent.Add(req.records)
		if !expectAck {
			s.acked.Records.Add(req.records)
			s.acked.Bytes.Add(req.bytes)
		}
	}
	if expectAck || ctx.Err() != nil {
		return
	}
	// acks=0 requests have no response. An ApiVersions request after the
	// last of them is answered once the broker has read (and, as Kafka
	// handles a connection's requests in order, processed) them all, so
	// the run's time includes that and a broker that dropped the
	// connection is noticed.
	corr++
	frame := appendRequest(nil, kmsg.NewPtrApiVersionsRequest(), corr, rawProducerClientID)
	pending <- rawPending{corr: corr, sent: time.Now(), barrier: true}
	if err := c.conn.SetWriteDeadline(time.Now().Add(rawIOTimeout)); err != nil {
		s.fail(err)
		return
	}
	if _, err := c.conn.Write(frame); err != nil {
		s.fail(fmt.Errorf("api versions to %s: %w", c.l.addr, err))
	}
}

// read matches responses to the pending requests in order until pending is
// closed and drained, or the run fails.
func (c *rawConn) read(ctx context.Context, pending <-chan rawPending, slots <-chan struct{}) {
	s := c.s
	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(c.l.version)
	av := kmsg.NewPtrApiVersionsRequest()
	for p := range pending {
		var req kmsg.Request = produce
		if p.barrier {
			req = av
		}
		if err := c.conn.SetReadDeadline(time.Now().Add(rawIOTimeout)); err != nil {
			s.fail(err)
			return
		}
		body, buf, err := readResponse(c.conn, c.buf, rawMaxResponse, p.corr, req)
		c.buf = buf
		if err == nil {
			err = c.check(req, body, p)
		}
		if err != nil {
			if ctx.Err() == nil { // else the run failed elsewhere first
				s.fail(fmt.Errorf("broker %d (%s): %w", c.l.node, c.l.addr, err))
			}
			return
		}
		if p.barrier {
			continue
		}
		c.hist.RecordDuration(time.Since(p.sent))
		s.acked.Records.Add(p.records)
		s.acked.Bytes.Add(p.bytes)
		<-slots
	}
}

// check decodes a response and returns an error for any error code in it.
func (c *rawConn) check(req kmsg.Request, body []byte, p rawPending) error {
	if p.barrier {
		resp := kmsg.NewPtrApiVersionsResponse()
		if err := resp.ReadFrom(body); err != nil {
			return fmt.Errorf("api versions response: %w", err)
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return fmt.Errorf("produce response: %w", err)
	}
	answered := 0
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			answered++
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				msg := ""
				if rp.ErrorMessage != nil && *rp.ErrorMessage != "" {
					msg = ": " + *rp.ErrorMessage
				}
				return fmt.Errorf("produce %s/%d: %w%s", c.s.topic, rp.Partition, err, msg)
			}
		}
	}
	if answered != p.partitions {
		return fmt.Errorf("produce response answers %d partitions of %d", answered, p.partitions)
	}
	return nil
}

// run connects, builds the batches, and produces until the record count or
// the duration is reached and every request is acknowledged, or the first
// error; the time reported runs from the first send to the last
// acknowledgement.
func (s *rawProducers) run(ctx context.Context) (*Throughput, error) {
	c := s.cfg
	if err := s.lookup(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	defer cancel()

	var conns []*rawConn
	defer func() {
		for _, rc := range conns {
			if rc.conn != nil {
				rc.conn.Close()
			}
		}
	}()
	totalParts := 0
	for _, l := range s.leaders {
		totalParts += len(l.partitions)
	}
	for i := range c.Producers {
		for _, l := range s.leaders {
			// Pooled requests are paced as wholes so that records/s across
			// all connections is c.Rate: every request holds the same records
			// per partition. Paced connections count records.
			rate := c.Rate / float64(c.Producers) / float64(totalParts*s.perBatch)
			if s.paced {
				rate = c.Rate / float64(c.Producers) * float64(len(l.partitions)) / float64(totalParts)
			}
			rc := &rawConn{s: s, l: l, rate: rate}
			conns = append(conns, rc)
			if err := rc.dial(runCtx); err != nil {
				return nil, fmt.Errorf("producer %d, broker %d (%s): %w", i, l.node, l.addr, err)
			}
		}
	}
	if !s.paced {
		if err := s.buildPool(); err != nil {
			return nil, err
		}
	}

	prog := startProgress(c.Progress, "produce-raw", &s.acked, c.ProgressInterval, nil)
	defer prog.Stop()

	start := time.Now()
	if c.Duration > 0 {
		t := time.AfterFunc(c.Duration, func() { s.stopped.Store(true) })
		defer t.Stop()
	}
	var wg sync.WaitGroup
	for _, rc := range conns {
		pending := make(chan rawPending, c.MaxInflight+1)
		slots := make(chan struct{}, c.MaxInflight)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if s.paced {
				rc.writePaced(runCtx, pending, slots)
			} else {
				rc.write(runCtx, pending, slots)
			}
		}()
		go func() {
			defer wg.Done()
			rc.read(runCtx, pending, slots)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	var hist Histogram
	for _, rc := range conns {
		hist.Merge(&rc.hist)
	}
	t := newThroughput(s.acked.Records.Load(), s.acked.Bytes.Load(), elapsed)
	lat := LatencyOf(&hist)
	t.Latency = &lat
	if err := ctx.Err(); err != nil {
		return t, err
	}
	if first := s.firstErr.Load(); first != nil {
		// Records written but never acknowledged failed with the run.
		t.Errors = s.sent.Load() - t.Records
		t.FirstError = (*first).Error()
		return t, *first
	}
	return t, nil
}

// runRawProduce creates the topic if needed and runs a raw produce workload
// into sum.
func runRawProduce(ctx context.Context, cfg *ProduceConfig, sum *Summary) error {
	s, err := newRawProducers(cfg)
	if err != nil {
		return err
	}
	parts, err := EnsureTopic(ctx, cfg.ClientConfig, cfg.Topic, cfg.Partitions)
	if err != nil {
		return err
	}
	_, acks, _ := parseAcks(cfg.Acks)
	wl := cfg.workload(parts, false, acks, s.codec)
	wl.LingerMs = 0
	wl.Raw = true
	wl.BatchRecords = s.perBatch
	sum.Workload = wl
	sum.Produce, err = s.run(ctx)
	return err
}
