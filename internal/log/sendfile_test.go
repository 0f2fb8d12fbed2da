package log

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

func TestWriteToSocketAndBuffer(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 20
	l := openT(t, t.TempDir(), cfg, false)
	for l.Size() < 6<<20 {
		appendT(t, l, simpleBatch(t, 0, 8, 4000, 1))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// Several readers send different ranges of the same segment file at
	// once: each must get exactly its range (no shared file offset).
	offsets := []int64{0, 17, l.LogEndOffset() / 2, l.LogEndOffset() - 1}
	var wg sync.WaitGroup
	for _, off := range offsets {
		want, err := l.ReadBytes(off, 4<<20, true)
		if err != nil || len(want) == 0 {
			t.Fatalf("ReadBytes(%d): %d bytes, %v", off, len(want), err)
		}
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(client)
				got <- b
			}()
			r, err := l.Read(off, 4<<20, true)
			if err != nil {
				t.Error(err)
				return
			}
			n, err := r.WriteTo(server)
			r.Release()
			server.Close()
			b := <-got
			client.Close()
			if err != nil || n != int64(len(want)) || !bytes.Equal(b, want) {
				t.Errorf("offset %d: sent %d bytes (%v), received %d, want %d identical", off, n, err, len(b), len(want))
			}
		}()
	}
	wg.Wait()

	var buf bytes.Buffer
	r, err := l.Read(5, 100000, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	want, _ := l.ReadBytes(5, 100000, true)
	if n, err := r.WriteTo(&buf); err != nil || n != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteTo(buffer) = %d, %v", n, err)
	}
	var empty ReadResult
	if n, err := empty.WriteTo(&buf); n != 0 || err != nil {
		t.Fatalf("empty WriteTo = %d, %v", n, err)
	}
}
