package log

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestCompressRecordsRoundTrip compresses with every codec (twice, so pooled
// writers are reused) and decompresses with the reader the log uses.
func TestCompressRecordsRoundTrip(t *testing.T) {
	inputs := [][]byte{
		[]byte("x"),
		bytes.Repeat([]byte("compaction "), 1000),
		bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8}, 20_000), // several xerial blocks
	}
	var dec payloadDecoder
	for _, codec := range []int8{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		for _, xerial := range []bool{false, true} {
			for i, in := range inputs {
				for round := range 2 {
					name := fmt.Sprintf("codec %d xerial %v input %d round %d", codec, xerial, i, round)
					out, err := compressRecords(codec, in, xerial)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if codec == CompressionSnappy && xerial != bytes.HasPrefix(out, xerialMagic) {
						t.Fatalf("%s: xerial framing %v", name, !xerial)
					}
					if codec == CompressionLZ4 && out[5]&0x70 != 0x40 {
						t.Fatalf("%s: lz4 block size descriptor %#x, want 64 KiB blocks", name, out[5])
					}
					back, err := decompress(codec, out, MaxDecompressedBytes)
					if err != nil {
						t.Fatalf("%s: decompress: %v", name, err)
					}
					if !bytes.Equal(back, in) {
						t.Fatalf("%s: round trip differs", name)
					}
					// The cleaner's decoder, reused across codecs and sizes.
					if back, err = dec.decode(codec, out); err != nil || !bytes.Equal(back, in) {
						t.Fatalf("%s: payloadDecoder: %v", name, err)
					}
				}
			}
		}
	}
	if _, err := compressRecords(7, []byte("x"), false); err == nil {
		t.Fatal("codec 7 accepted")
	}
	for _, codec := range []int8{CompressionGzip, CompressionLZ4, CompressionZstd, 7} {
		if _, err := dec.decode(codec, []byte("not compressed at all")); !errors.Is(err, ErrCorruptMessage) {
			t.Fatalf("codec %d: garbage decoded: %v", codec, err)
		}
	}
}
