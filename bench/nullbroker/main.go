// Command nullbroker is the load generator's ceiling: a Kafka-protocol
// server on 127.0.0.1 that acknowledges produce requests without storing
// anything. It answers only ApiVersions, Metadata, CreateTopics,
// InitProducerID and Produce (acks 0, 1 and all), so `samsa bench produce`
// can run against it; a broker cannot be faster than this for the same
// client settings, which tells a client-bound figure from a broker-bound one.
//
// Each connection is served by one goroutine that reads a request, answers
// it and reads the next, so responses leave in request order as the protocol
// requires. Codecs are franz-go's kmsg; the framing is ours.
//
//	go build -o bench/bin/nullbroker ./bench/nullbroker
//	bench/bin/nullbroker -port 9092
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxRequestBytes bounds a request frame, like Kafka's socket.request.max.bytes.
const maxRequestBytes = 100 << 20

// Supported API versions: the highest kmsg knows, except where a newer
// version would need state we do not keep (Produce v13 and Metadata v13
// address topics by ID only).
var versions = map[int16]int16{
	18: (&kmsg.ApiVersionsRequest{}).MaxVersion(),
	3:  12, // Metadata
	0:  12, // Produce
	19: (&kmsg.CreateTopicsRequest{}).MaxVersion(),
	22: (&kmsg.InitProducerIDRequest{}).MaxVersion(),
}

type topic struct {
	id      [16]byte
	offsets []atomic.Int64 // next offset per partition
}

type server struct {
	port         int32
	defaultParts int32
	mu           sync.Mutex
	topics       map[string]*topic
	nextProducer atomic.Int64
	connsMu      sync.Mutex
	conns        map[net.Conn]struct{}
}

func main() {
	port := flag.Int("port", 9092, "port to listen on at 127.0.0.1")
	parts := flag.Int("default-partitions", 8, "partitions of topics created without a count")
	flag.Parse()

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatalf("nullbroker: %v", err)
	}
	fmt.Fprintln(os.Stderr, "nullbroker: listening on", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		ln.Close()
	}()
	newServer(ln, int32(*parts)).run(ln)
}

func newServer(ln net.Listener, defaultParts int32) *server {
	return &server{
		port:         int32(ln.Addr().(*net.TCPAddr).Port),
		defaultParts: defaultParts,
		topics:       map[string]*topic{},
		conns:        map[net.Conn]struct{}{},
	}
}

// run accepts connections until ln is closed, then closes them all and
// waits for their goroutines.
func (s *server) run(ln net.Listener) {
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		s.connsMu.Lock()
		s.conns[c] = struct{}{}
		s.connsMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serve(c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				fmt.Fprintln(os.Stderr, "nullbroker: connection:", err)
			}
			s.connsMu.Lock()
			delete(s.conns, c)
			s.connsMu.Unlock()
			c.Close()
		}()
	}
	s.connsMu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.connsMu.Unlock()
	wg.Wait()
}

// serve reads requests from c and answers them until c fails or closes.
func (s *server) serve(c net.Conn) error {
	r := bufio.NewReaderSize(c, 1<<20)
	var size [4]byte
	var body, out []byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return err
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 8 || n > maxRequestBytes {
			return fmt.Errorf("request size %d out of range", n)
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		key := int16(binary.BigEndian.Uint16(body[0:]))
		version := int16(binary.BigEndian.Uint16(body[2:]))
		corr := binary.BigEndian.Uint32(body[4:])

		req := kmsg.RequestForKey(key)
		max, ok := versions[key]
		if req == nil || !ok || version < 0 || version > max {
			if key == 18 {
				// KIP-511: answer an ApiVersions we cannot parse with v0
				// and UNSUPPORTED_VERSION, so the client retries lower.
				resp := s.apiVersions(0)
				resp.ErrorCode = 35
				out = frame(out[:0], corr, resp, false)
				if _, err := c.Write(out); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("unsupported request key %d version %d", key, version)
		}
		req.SetVersion(version)
		payload, err := skipHeader(body[8:], req.IsFlexible())
		if err != nil {
			return err
		}
		if err := req.ReadFrom(payload); err != nil {
			return fmt.Errorf("decode request key %d v%d: %w", key, version, err)
		}
		resp := s.handle(req)
		if resp == nil {
			continue // acks=0: no response
		}
		// ApiVersions responses keep the v0 header even when flexible.
		out = frame(out[:0], corr, resp, resp.IsFlexible() && key != 18)
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

// skipHeader skips the client ID and, for flexible requests, the header's
// tagged fields, returning the request body.
func skipHeader(b []byte, flexible bool) ([]byte, error) {
	if len(b) < 2 {
		return nil, errors.New("short request header")
	}
	idLen := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if idLen > 0 {
		if len(b) < int(idLen) {
			return nil, errors.New("short client ID")
		}
		b = b[idLen:]
	}
	if !flexible {
		return b, nil
	}
	tags, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[n:]
	for i := uint64(0); i < tags; i++ {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// frame appends the response with its size and header to dst.
func frame(dst []byte, corr uint32, resp kmsg.Response, flexibleHeader bool) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, corr)
	if flexibleHeader {
		dst = append(dst, 0) // no tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}

func (s *server) handle(req kmsg.Request) kmsg.Response {
	v := req.GetVersion()
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return s.apiVersions(v)
	case *kmsg.MetadataRequest:
		return s.metadata(req)
	case *kmsg.CreateTopicsRequest:
		return s.createTopics(req)
	case *kmsg.InitProducerIDRequest:
		resp := kmsg.NewPtrInitProducerIDResponse()
		resp.SetVersion(v)
		resp.ProducerID = s.nextProducer.Add(1)
		return resp
	case *kmsg.ProduceRequest:
		return s.produce(req)
	}
	return nil
}

func (s *server) apiVersions(v int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(v)
	for key, max := range versions {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, 0, max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func (s *server) addTopic(name string, parts int32) (*topic, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.topics[name]; ok {
		return t, false
	}
	t := &topic{offsets: make([]atomic.Int64, parts)}
	_, _ = rand.Read(t.id[:])
	s.topics[name] = t
	return t, true
}

func (s *server) lookup(name string) *topic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.topics[name]
}

func (s *server) metadata(req *kmsg.MetadataRequest) kmsg.Response {
	resp := kmsg.NewPtrMetadataResponse()
	resp.SetVersion(req.Version)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 0, "127.0.0.1", s.port
	resp.Brokers = append(resp.Brokers, b)
	cluster := "nullbroker"
	resp.ClusterID = &cluster
	resp.ControllerID = 0

	var names []string
	if req.Topics == nil {
		s.mu.Lock()
		for n := range s.topics {
			names = append(names, n)
		}
		s.mu.Unlock()
	}
	for _, t := range req.Topics {
		if t.Topic != nil {
			names = append(names, *t.Topic)
		}
	}
	for _, name := range names {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		t := s.lookup(name)
		if t == nil && req.AllowAutoTopicCreation {
			t, _ = s.addTopic(name, s.defaultParts)
		}
		if t == nil {
			rt.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
		} else {
			rt.TopicID = t.id
			for p := range t.offsets {
				rp := kmsg.NewMetadataResponseTopicPartition()
				rp.Partition = int32(p)
				rp.Leader = 0
				rp.Replicas = []int32{0}
				rp.ISR = []int32{0}
				rt.Partitions = append(rt.Partitions, rp)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *server) createTopics(req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.SetVersion(req.Version)
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		parts := t.NumPartitions
		if parts <= 0 {
			parts = s.defaultParts
		}
		if parts > 100000 {
			rt.ErrorCode = 37 // INVALID_PARTITIONS
		} else if tp, created := s.addTopic(t.Topic, parts); !created {
			rt.ErrorCode = 36 // TOPIC_ALREADY_EXISTS
		} else {
			rt.TopicID = tp.id
			rt.NumPartitions = parts
			rt.ReplicationFactor = 1
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *server) produce(req *kmsg.ProduceRequest) kmsg.Response {
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(req.Version)
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		tp := s.lookup(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			n, ok := countRecords(p.Records)
			switch {
			case tp == nil || p.Partition < 0 || int(p.Partition) >= len(tp.offsets):
				rp.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			case !ok:
				rp.ErrorCode = 87 // INVALID_RECORD
			default:
				rp.BaseOffset = tp.offsets[p.Partition].Add(n) - n
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.Acks == 0 {
		return nil
	}
	return resp
}

// countRecords adds up the record counts of the v2 record batches in b
// (batch length at byte 8, record count at byte 57 of each batch header).
func countRecords(b []byte) (int64, bool) {
	var n int64
	for len(b) > 0 {
		if len(b) < 61 {
			return 0, false
		}
		size := int64(int32(binary.BigEndian.Uint32(b[8:]))) + 12
		if size < 61 || size > int64(len(b)) || b[16] != 2 {
			return 0, false
		}
		n += int64(int32(binary.BigEndian.Uint32(b[57:])))
		b = b[size:]
	}
	return n, true
}
