package server

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kmsgVersions supports every key and version kmsg knows.
func kmsgVersions(key int16) (int16, int16, bool) {
	r := kmsg.RequestForKey(key)
	if r == nil {
		return 0, 0, false
	}
	return 0, r.MaxVersion(), true
}

// sampleRequests are valid requests of several keys and versions, flexible
// and not, with and without bodies.
func sampleRequests() []kmsg.Request {
	topic := "orders"
	var out []kmsg.Request

	for _, v := range []int16{0, 2, 3, 4} {
		r := kmsg.NewPtrApiVersionsRequest()
		r.Version = v
		r.ClientSoftwareName, r.ClientSoftwareVersion = "samsa-test", "0.1.0"
		out = append(out, r)
	}
	for _, v := range []int16{0, 1, 4, 8, 9, 12} {
		r := kmsg.NewPtrMetadataRequest()
		r.Version = v
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = &topic
		r.Topics = append(r.Topics, t)
		r.AllowAutoTopicCreation = true
		out = append(out, r)
	}
	for _, v := range []int16{3, 7, 9} {
		r := kmsg.NewPtrProduceRequest()
		r.Version = v
		r.Acks, r.TimeoutMillis = -1, 1500
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = 2
		rp.Records = []byte("not really a batch, but bytes all the same")
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		out = append(out, r)
	}
	for _, v := range []int16{4, 11, 12} {
		r := kmsg.NewPtrFetchRequest()
		r.Version = v
		r.MaxWaitMillis, r.MinBytes, r.MaxBytes = 500, 1, 1<<20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = 0, 42, 1<<20
		ft.Partitions = append(ft.Partitions, fp)
		r.Topics = append(r.Topics, ft)
		out = append(out, r)
	}
	for _, v := range []int16{1, 5} {
		r := kmsg.NewPtrCreateTopicsRequest()
		r.Version = v
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 3, 1
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = "retention.ms", kmsg.StringPtr("1000")
		ct.Configs = append(ct.Configs, c)
		r.Topics = append(r.Topics, ct)
		out = append(out, r)
	}
	for _, v := range []int16{0, 4} {
		r := kmsg.NewPtrInitProducerIDRequest()
		r.Version = v
		r.TransactionTimeoutMillis = 60000
		out = append(out, r)
	}
	for _, v := range []int16{1, 4} {
		r := kmsg.NewPtrListOffsetsRequest()
		r.Version = v
		r.ReplicaID = -1
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = topic
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Timestamp = -1
		lt.Partitions = append(lt.Partitions, lp)
		r.Topics = append(r.Topics, lt)
		out = append(out, r)
	}
	return out
}

// unframed encodes req as a frame without the size prefix.
func unframed(clientID *string, req kmsg.Request, corr int32) []byte {
	var opts []kmsg.RequestFormatterOpt
	if clientID != nil {
		opts = append(opts, kmsg.FormatterClientID(*clientID))
	}
	return kmsg.NewRequestFormatter(opts...).AppendRequest(nil, req, corr)[4:]
}

func TestDecodeRequestValid(t *testing.T) {
	id := "client-1"
	for i, want := range sampleRequests() {
		name := fmt.Sprintf("%s v%d", kmsg.NameForKey(want.Key()), want.GetVersion())
		t.Run(name, func(t *testing.T) {
			corr := int32(1000 + i)
			rc, got, err := DecodeRequest(unframed(&id, want, corr), kmsgVersions)
			if err != nil {
				t.Fatal(err)
			}
			if rc.APIKey != want.Key() || rc.APIVersion != want.GetVersion() || rc.CorrelationID != corr || rc.ClientID != id {
				t.Fatalf("request context %+v", rc)
			}
			if got.Key() != want.Key() || got.GetVersion() != want.GetVersion() {
				t.Fatalf("decoded %s v%d", kmsg.NameForKey(got.Key()), got.GetVersion())
			}
			if a, b := got.AppendTo(nil), want.AppendTo(nil); !bytes.Equal(a, b) {
				t.Fatalf("decoded body re-encodes differently:\n got % x\nwant % x", a, b)
			}
		})
	}
}

func TestDecodeRequestHeaderVariants(t *testing.T) {
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12

	t.Run("null client id", func(t *testing.T) {
		rc, _, err := DecodeRequest(unframed(nil, md, 5), kmsgVersions)
		if err != nil || rc.ClientID != "" || rc.CorrelationID != 5 {
			t.Fatalf("%+v, %v", rc, err)
		}
	})
	t.Run("empty client id", func(t *testing.T) {
		empty := ""
		rc, _, err := DecodeRequest(unframed(&empty, md, 5), kmsgVersions)
		if err != nil || rc.ClientID != "" {
			t.Fatalf("%+v, %v", rc, err)
		}
	})
	t.Run("header tags are skipped", func(t *testing.T) {
		id := "c"
		body := unframed(&id, md, 6)
		hdrEnd := 10 + len(id)
		if body[hdrEnd] != 0 {
			t.Fatalf("expected an empty tag section at %d", hdrEnd)
		}
		// Two tags: 0 with 2 bytes, 7 with 300 bytes (two-byte varint length).
		var tags []byte
		tags = append(tags, 2, 0, 2, 'h', 'i', 7)
		tags = binary.AppendUvarint(tags, 300)
		tags = append(tags, bytes.Repeat([]byte{0xee}, 300)...)
		withTags := append(append(append([]byte{}, body[:hdrEnd]...), tags...), body[hdrEnd+1:]...)
		rc, got, err := DecodeRequest(withTags, kmsgVersions)
		if err != nil {
			t.Fatal(err)
		}
		if rc.ClientID != id || !bytes.Equal(got.AppendTo(nil), md.AppendTo(nil)) {
			t.Fatalf("%+v", rc)
		}
	})
	t.Run("unsupported ApiVersions decoded as v0", func(t *testing.T) {
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		av.ClientSoftwareName, av.ClientSoftwareVersion = "x", "y"
		id := "old"
		frame := unframed(&id, av, 9)
		binary.BigEndian.PutUint16(frame[2:], 77)
		rc, got, err := DecodeRequest(frame, kmsgVersions)
		if err != nil {
			t.Fatal(err)
		}
		if rc.APIVersion != 77 || got.GetVersion() != 0 || got.Key() != 18 || rc.ClientID != "old" {
			t.Fatalf("rc %+v, request v%d", rc, got.GetVersion())
		}
		// Below the handler's minimum too.
		only3 := func(key int16) (int16, int16, bool) { return 3, 4, key == 18 }
		binary.BigEndian.PutUint16(frame[2:], 1)
		if rc, got, err := DecodeRequest(frame, only3); err != nil || got.GetVersion() != 0 || rc.APIVersion != 1 {
			t.Fatalf("v1 below minimum: %+v %v", rc, err)
		}
	})
}

func TestDecodeRequestErrors(t *testing.T) {
	id := "cli"
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 4
	tp := kmsg.NewMetadataRequestTopic()
	tp.Topic = kmsg.StringPtr("t")
	md.Topics = append(md.Topics, tp)
	good := unframed(&id, md, 1)

	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	flex := kmsg.NewPtrMetadataRequest()
	flex.Version = 12
	goodFlex := unframed(&id, flex, 1)
	only := func(key int16) (int16, int16, bool) { return 0, 8, key == 3 }

	cases := []struct {
		name     string
		frame    []byte
		versions func(int16) (int16, int16, bool)
		want     string
	}{
		{"empty", nil, kmsgVersions, "shorter than a request header"},
		{"nine bytes", good[:9], kmsgVersions, "shorter than a request header"},
		{"client id overruns", good[:12], kmsgVersions, "client id length"},
		{"client id length past end", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[8:], 0x7fff); return b }), kmsgVersions, "overruns"},
		{"unknown key", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b, 32000); return b }), kmsgVersions, "unknown API key 32000"},
		{"negative key", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b, 0xffff); return b }), kmsgVersions, "unknown API key -1"},
		{"version above range", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], 9); return b }), only, "unsupported version 9 of Metadata"},
		{"negative version", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], 0xffff); return b }), only, "unsupported version -1"},
		{"key not served", good, func(int16) (int16, int16, bool) { return 0, 0, false }, "unsupported version"},
		{"truncated body", good[:len(good)-2], kmsgVersions, "malformed Metadata v4 request"},
		{"missing tag section", goodFlex[:10+len(id)], kmsgVersions, "malformed tagged fields"},
		{"tag count too large", append(append([]byte{}, goodFlex[:10+len(id)]...), 5, 0, 0), kmsgVersions, "malformed tagged fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, req, err := DecodeRequest(tc.frame, tc.versions)
			if err == nil {
				t.Fatalf("no error: %+v %v", rc, req)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if rc != nil || req != nil {
				t.Fatalf("error with a result: %+v %v", rc, req)
			}
		})
	}
}

// Every strict prefix of a valid frame with a body is an error, and no
// input makes DecodeRequest panic.
func TestDecodeRequestTruncatedAndGarbage(t *testing.T) {
	id := "truncate-me"
	for _, r := range sampleRequests() {
		frame := unframed(&id, r, 3)
		for n := range len(frame) {
			rc, req, err := DecodeRequest(frame[:n], kmsgVersions)
			if err == nil {
				t.Fatalf("%s v%d: %d of %d bytes decoded without error: %+v %v",
					kmsg.NameForKey(r.Key()), r.GetVersion(), n, len(frame), rc, req)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		n := rng.IntN(200)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if n >= 4 {
			// Mostly real keys and versions, so the body decoders run.
			binary.BigEndian.PutUint16(b, uint16(rng.IntN(80)))
			binary.BigEndian.PutUint16(b[2:], uint16(rng.IntN(14)))
		}
		if n >= 10 && i%2 == 0 {
			binary.BigEndian.PutUint16(b[8:], uint16(rng.IntN(4)))
		}
		DecodeRequest(b, kmsgVersions)
	}
}

func TestSkipTags(t *testing.T) {
	big := binary.AppendUvarint(nil, 1<<40)
	cases := []struct {
		name string
		in   []byte
		n    int
		ok   bool
	}{
		{"no tags", []byte{0}, 1, true},
		{"no tags, body follows", []byte{0, 9, 9}, 1, true},
		{"one empty tag", []byte{1, 3, 0}, 3, true},
		{"one tag", []byte{1, 0, 2, 'a', 'b', 0xff}, 5, true},
		{"two tags", []byte{2, 0, 1, 'a', 1, 0}, 6, true},
		{"multi-byte tag and length", append([]byte{1, 0x80, 0x01, 0x02}, 'x', 'y'), 6, true},
		{"empty input", nil, 0, false},
		{"unterminated count", []byte{0x80}, 0, false},
		{"count above input length", []byte{3, 0, 0}, 0, false},
		{"huge count", append(append([]byte{}, big...), 0, 0), 0, false},
		{"count overflows uint64", bytes.Repeat([]byte{0xff}, 11), 0, false},
		{"missing tag", []byte{1}, 0, false},
		{"missing size", []byte{1, 0}, 0, false},
		{"unterminated tag", []byte{1, 0x80}, 0, false},
		{"size past end", []byte{1, 0, 3, 'a', 'b'}, 0, false},
		{"huge size", append([]byte{1, 0}, big...), 0, false},
		{"second tag truncated", []byte{2, 0, 1, 'a', 1}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := skipTags(tc.in)
			if n != tc.n || ok != tc.ok {
				t.Fatalf("skipTags(% x) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
			}
		})
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for i, r := range sampleRequests() {
		id := fmt.Sprintf("seed-%d", i)
		f.Add(unframed(&id, r, int32(i)))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0x80})
	f.Fuzz(func(t *testing.T, frame []byte) {
		rc, req, err := DecodeRequest(frame, kmsgVersions)
		if err != nil {
			if rc != nil || req != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		if rc == nil || req == nil {
			t.Fatal("nil result without an error")
		}
		if req.Key() != rc.APIKey || rc.APIKey != int16(binary.BigEndian.Uint16(frame)) {
			t.Fatalf("key %d / %d", req.Key(), rc.APIKey)
		}
		if rc.CorrelationID != int32(binary.BigEndian.Uint32(frame[4:])) {
			t.Fatalf("correlation ID %d", rc.CorrelationID)
		}
		if _, hi, _ := kmsgVersions(rc.APIKey); rc.APIVersion >= 0 && rc.APIVersion <= hi {
			if req.GetVersion() != rc.APIVersion {
				t.Fatalf("decoded as v%d, sent v%d", req.GetVersion(), rc.APIVersion)
			}
		} else if rc.APIKey != 18 || req.GetVersion() != 0 {
			t.Fatalf("out-of-range v%d of key %d accepted as v%d", rc.APIVersion, rc.APIKey, req.GetVersion())
		}
		// What was decoded can be encoded again (handlers echo parts of it).
		_ = req.AppendTo(nil)
	})
}

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzDecodeRequest from sampleRequests")

// TestWriteFuzzSeeds regenerates the checked-in seed corpus:
// go test ./internal/server -run TestWriteFuzzSeeds -write-fuzz-seeds
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("use -write-fuzz-seeds to rewrite the corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeRequest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, r := range sampleRequests() {
		id := "corpus"
		b := unframed(&id, r, int32(i))
		name := fmt.Sprintf("%s-v%d", strings.ToLower(kmsg.NameForKey(r.Key())), r.GetVersion())
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
