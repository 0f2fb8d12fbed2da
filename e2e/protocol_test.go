package e2e

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks the Kafka protocol by hand, to send what clients never do.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc}
}

func (c *rawConn) writeFrame(b []byte) {
	c.t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	if _, err := c.nc.Write(append(frame, b...)); err != nil {
		c.t.Fatal(err)
	}
}

// send encodes req with a request header at version v.
func (c *rawConn) send(req kmsg.Request, corr int32) {
	c.t.Helper()
	b := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, corr)
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// recv reads one response frame and decodes it into resp.
func (c *rawConn) recv(resp kmsg.Response, wantCorr int32) {
	c.t.Helper()
	body := c.readFrame()
	if body == nil {
		c.t.Fatal("connection closed, want a response")
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != wantCorr {
		c.t.Fatalf("correlation ID %d, want %d", corr, wantCorr)
	}
	body = body[4:]
	if resp.IsFlexible() && resp.Key() != 18 {
		body = body[1:] // empty tagged fields of response header v1
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decode %T: %v", resp, err)
	}
}

func (c *rawConn) readFrame() []byte {
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return nil
	}
	return body
}

// expectClosed checks that the broker closed the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := c.nc.Read(b[:])
	if err == nil {
		c.t.Fatal("connection still open, want it closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection neither answered nor closed")
	}
}

func (c *rawConn) apiVersions(v int16) *kmsg.ApiVersionsResponse {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = v
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw", "1"
	c.send(req, 42)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.Version = v
	c.recv(resp, 42)
	return resp
}

func TestApiVersions(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	for v := int16(0); v <= 4; v++ {
		resp := dial(t, tb.addr).apiVersions(v)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		got := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		if got[0] != [2]int16{0, 13} || got[1] != [2]int16{4, 17} || got[18] != [2]int16{0, 4} {
			t.Fatalf("v%d: advertised %v", v, got)
		}
		if got[26] != [2]int16{0, 4} {
			t.Fatalf("EndTxn advertised as %v, want 0-4 (v5, KIP-890 part 2, is not implemented)", got[26])
		}
		if got[11] != [2]int16{0, 9} {
			t.Fatalf("JoinGroup advertised as %v", got[11])
		}
	}
	// KIP-511: an unknown ApiVersions version gets a v0 answer with
	// UNSUPPORTED_VERSION and the supported ranges.
	c := dial(t, tb.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 4
	b := kmsg.NewRequestFormatter().AppendRequest(nil, req, 7)
	binary.BigEndian.PutUint16(b[6:], 99) // patch api_version in the header
	c.nc.Write(b)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	c.recv(resp, 7)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v99: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
}

func TestMalformedFramesCloseTheConnection(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"socket.request.max.bytes": "1000"})
	cases := map[string][]byte{
		"frame over socket.request.max.bytes": binary.BigEndian.AppendUint32(nil, 1001),
		"negative size":                       binary.BigEndian.AppendUint32(nil, 0xffffffff),
		"shorter than a header":               {0, 0, 0, 3, 0, 3, 0},
		"unknown api key": append(binary.BigEndian.AppendUint32(nil, 10),
			0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff),
		"unsupported produce version": append(binary.BigEndian.AppendUint32(nil, 10),
			0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff),
		"client id overruns frame": append(binary.BigEndian.AppendUint32(nil, 12),
			0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 'a', 'b'),
		"truncated metadata body": append(binary.BigEndian.AppendUint32(nil, 13),
			0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 5),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			c := dial(t, tb.addr)
			if _, err := c.nc.Write(b); err != nil {
				t.Fatal(err)
			}
			c.expectClosed()
		})
	}
	// The broker is still healthy.
	if resp := dial(t, tb.addr).apiVersions(3); resp.ErrorCode != 0 {
		t.Fatalf("after bad input: ApiVersions error %d", resp.ErrorCode)
	}
}

func TestPipelinedResponsesInOrder(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("pipe", 1, nil)
	c := dial(t, tb.addr)
	// A long-polling fetch first, then quick requests behind it: responses
	// must still come back in request order.
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 11
	fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 300, 1, 1<<20
	fetch.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "pipe"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	c.send(fetch, 1)
	for i := int32(2); i <= 10; i++ {
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 9
		c.send(md, i)
	}
	fresp := kmsg.NewPtrFetchResponse()
	fresp.Version = 11
	c.recv(fresp, 1)
	for i := int32(2); i <= 10; i++ {
		mresp := kmsg.NewPtrMetadataResponse()
		mresp.Version = 9
		c.recv(mresp, i)
	}
}

// batch builds a RecordBatch v2 of n small records.
func batch(pid int64, epoch int16, seq int32, n int, magic int8) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		var r []byte
		r = append(r, 0)                        // attributes
		r = binary.AppendVarint(r, 0)           // timestamp delta
		r = binary.AppendVarint(r, int64(i))    // offset delta
		r = binary.AppendVarint(r, -1)          // null key
		r = binary.AppendVarint(r, 3)           // value length
		r = append(r, 'v', byte('0'+i%10), '!') // value
		r = binary.AppendVarint(r, 0)           // no headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
	}
	b := make([]byte, 61, 61+len(recs))
	binary.BigEndian.PutUint32(b[8:], uint32(49+len(recs)))
	b[16] = byte(magic)
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	binary.BigEndian.PutUint64(b[27:], uint64(time.Now().UnixMilli()))
	binary.BigEndian.PutUint64(b[35:], uint64(time.Now().UnixMilli()))
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func (c *rawConn) produce(topic string, records []byte, corr int32) kmsg.ProduceResponseTopicPartition {
	c.t.Helper()
	return c.produceAs(nil, topic, records, corr)
}

// produceAs is produce for a transactional producer (txnID non-nil).
func (c *rawConn) produceAs(txnID *string, topic string, records []byte, corr int32) kmsg.ProduceResponseTopicPartition {
	c.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.TransactionID = txnID
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	c.send(req, corr)
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 9
	c.recv(resp, corr)
	return resp.Topics[0].Partitions[0]
}

func TestProduceValidation(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"message.max.bytes": "2000"})
	tb.createTopic("v", 1, nil)
	c := dial(t, tb.addr)
	corrupt := batch(-1, -1, -1, 3, 2)
	corrupt[len(corrupt)-2] ^= 0xff
	badCount := batch(-1, -1, -1, 3, 2)
	binary.BigEndian.PutUint32(badCount[57:], 7)
	binary.BigEndian.PutUint32(badCount[17:], crc32.Checksum(badCount[21:], crc32.MakeTable(crc32.Castagnoli)))
	cases := []struct {
		name    string
		records []byte
		want    *kerr.Error
	}{
		{"crc mismatch", corrupt, kerr.CorruptMessage},
		{"message format v1", batch(-1, -1, -1, 3, 1), kerr.UnsupportedForMessageFormat},
		{"too large", batch(-1, -1, -1, 300, 2), kerr.MessageTooLarge},
		{"record count disagrees", badCount, kerr.InvalidRecord},
		{"truncated batch", batch(-1, -1, -1, 3, 2)[:70], kerr.CorruptMessage},
	}
	for i, tc := range cases {
		sp := c.produce("v", tc.records, int32(i))
		if sp.ErrorCode != tc.want.Code {
			t.Errorf("%s: error %v, want %v", tc.name, kerr.ErrorForCode(sp.ErrorCode), tc.want)
		}
	}
	// Produce v0-v2 (message format v0/v1) is refused clearly.
	old := kmsg.NewPtrProduceRequest()
	old.Version, old.Acks, old.TimeoutMillis = 2, 1, 5000
	old.Topics = []kmsg.ProduceRequestTopic{{Topic: "v", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: batch(-1, -1, -1, 1, 1)}}}}
	c.send(old, 50)
	oldResp := kmsg.NewPtrProduceResponse()
	oldResp.Version = 2
	c.recv(oldResp, 50)
	if code := oldResp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnsupportedForMessageFormat.Code {
		t.Errorf("Produce v2: error %v, want UNSUPPORTED_FOR_MESSAGE_FORMAT", kerr.ErrorForCode(code))
	}
	if sp := c.produce("v", batch(-1, -1, -1, 3, 2), 100); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("valid batch after rejects: error %d offset %d", sp.ErrorCode, sp.BaseOffset)
	}
}

func TestIdempotentProduce(t *testing.T) {
	dir := t.TempDir()
	tb := startBroker(t, dir, nil)
	tb.createTopic("idem", 1, nil)
	c := dial(t, tb.addr)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	c.send(init, 1)
	ir := kmsg.NewPtrInitProducerIDResponse()
	ir.Version = 4
	c.recv(ir, 1)
	if ir.ErrorCode != 0 || ir.ProducerID < 0 {
		t.Fatalf("InitProducerId: %+v", ir)
	}
	pid := ir.ProducerID
	expect := func(c *rawConn, name string, records []byte, code *kerr.Error, offset int64) {
		t.Helper()
		sp := c.produce("idem", records, 9)
		if (code == nil) != (sp.ErrorCode == 0) || code != nil && sp.ErrorCode != code.Code {
			t.Fatalf("%s: error %v, want %v", name, kerr.ErrorForCode(sp.ErrorCode), code)
		}
		if code == nil && sp.BaseOffset != offset {
			t.Fatalf("%s: offset %d, want %d", name, sp.BaseOffset, offset)
		}
	}
	expect(c, "first", batch(pid, 0, 0, 5, 2), nil, 0)
	expect(c, "second", batch(pid, 0, 5, 5, 2), nil, 5)
	expect(c, "retry of first", batch(pid, 0, 0, 5, 2), nil, 0)
	expect(c, "gap", batch(pid, 0, 20, 5, 2), kerr.OutOfOrderSequenceNumber, 0)
	expect(c, "next epoch not at 0", batch(pid, 1, 3, 1, 2), kerr.OutOfOrderSequenceNumber, 0)
	expect(c, "third", batch(pid, 0, 10, 2, 2), nil, 10)

	// Producer state survives a restart: from the snapshot written at
	// clean shutdown, and rebuilt from the log when there is none.
	tb = tb.restart(nil)
	c = dial(t, tb.addr)
	expect(c, "retry after clean restart", batch(pid, 0, 10, 2, 2), nil, 10)
	tb.stop()
	if err := os.Remove(filepath.Join(dir, "idem-0", "producer-state.json")); err != nil {
		t.Fatal(err)
	}
	tb = tb.restart(nil)
	c = dial(t, tb.addr)
	expect(c, "retry after restart", batch(pid, 0, 10, 2, 2), nil, 10)
	expect(c, "gap after restart", batch(pid, 0, 13, 1, 2), kerr.OutOfOrderSequenceNumber, 0)
	expect(c, "continue after restart", batch(pid, 0, 12, 1, 2), nil, 12)
	expect(c, "new epoch", batch(pid, 1, 0, 1, 2), nil, 13)
	expect(c, "fenced old epoch", batch(pid, 0, 13, 1, 2), kerr.InvalidProducerEpoch, 0)
	// An unknown producer may start at any sequence (its state may have
	// been lost to retention), as in Kafka.
	expect(c, "unknown producer", batch(pid+1000, 0, 77, 1, 2), nil, 14)
	if got := tb.consumeAll("idem"); len(got) != 15 {
		t.Fatalf("log holds %d records, want 15", len(got))
	}
}
