package compat

import (
	"strings"
	"testing"
)

// The matrix is only as good as its comparisons: these check that every
// difference the scenarios rely on is caught.
func TestCompareRecordsCatchesDifferences(t *testing.T) {
	base := withOffsets(makeRecords("t", profile{}), 0, 10)
	w := window{from: 1000, to: 2000}
	if err := compareRecords(base, clone(base), w); err != nil {
		t.Fatalf("identical records: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(rs []record) []record
		want   string
	}{
		{"missing record", func(rs []record) []record { return rs[:len(rs)-1] }, "got 5 records, want 6"},
		{"offset", func(rs []record) []record { rs[2].Offset++; return rs }, "offset"},
		{"partition", func(rs []record) []record { rs[2].Partition = 1; return rs }, "partition"},
		{"null key became empty", func(rs []record) []record { rs[1].Key = []byte{}; return rs }, "null"},
		{"key byte", func(rs []record) []record { rs[2].Key[0] ^= 1; return rs }, "key"},
		{"value byte", func(rs []record) []record { rs[1].Value[200] ^= 1; return rs }, "value"},
		{"timestamp", func(rs []record) []record { rs[0].Timestamp++; return rs }, "timestamp"},
		{"header dropped", func(rs []record) []record { rs[2].Headers = rs[2].Headers[1:]; return rs }, "headers"},
		{"header order", func(rs []record) []record {
			rs[0].Headers[0], rs[0].Headers[1] = rs[0].Headers[1], rs[0].Headers[0]
			return rs
		}, "headers"},
		{"header value", func(rs []record) []record { rs[2].Headers[2].Value[0] ^= 1; return rs }, "headers"},
		{"swapped records", func(rs []record) []record { rs[3], rs[4] = rs[4], rs[3]; return rs }, "offset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := compareRecords(base, tc.mutate(clone(base)), w)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one mentioning %q", err, tc.want)
			}
		})
	}

	// Client-chosen timestamps must fall into the produce window.
	free := withOffsets(makeRecords("t", profile{noTimestamps: "x"}), 0, 0)
	got := clone(free)
	for i := range got {
		got[i].Timestamp = 1500
	}
	if err := compareRecords(free, got, w); err != nil {
		t.Fatalf("timestamps inside the window: %v", err)
	}
	got[3].Timestamp = 2001
	if err := compareRecords(free, got, w); err == nil || !strings.Contains(err.Error(), "window") {
		t.Fatalf("timestamp outside the window: got %v", err)
	}
}

func clone(rs []record) []record {
	out := make([]record, len(rs))
	for i, r := range rs {
		r.Key = cloneBytes(r.Key)
		r.Value = cloneBytes(r.Value)
		hs := make([]header, len(r.Headers))
		for j, h := range r.Headers {
			hs[j] = header{h.Key, cloneBytes(h.Value)}
		}
		if r.Headers == nil {
			hs = nil
		}
		r.Headers = hs
		out[i] = r
	}
	return out
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func TestParseKcat(t *testing.T) {
	out := "0,5,1700000000000,2,3,kkvvv,a=1,b=\n" +
		"3,6,1700000000001,-1,4,\x00\n,\xff,\n" +
		"1,7,1700000000002,0,-1,,\n"
	rs, err := parseKcat([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []record{
		{Partition: 0, Offset: 5, Timestamp: 1700000000000, Key: []byte("kk"), Value: []byte("vvv"),
			Headers: []header{{"a", []byte("1")}, {"b", []byte("")}}},
		{Partition: 3, Offset: 6, Timestamp: 1700000000001, Key: nil, Value: []byte("\x00\n,\xff")},
		{Partition: 1, Offset: 7, Timestamp: 1700000000002, Key: []byte{}, Value: nil},
	}
	if len(rs) != len(want) {
		t.Fatalf("got %d records, want %d", len(rs), len(want))
	}
	for i := range want {
		if err := compareRecord(want[i], rs[i], window{}); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		if (rs[i].Value == nil) != (want[i].Value == nil) {
			t.Errorf("record %d: value null=%v, want %v", i, rs[i].Value == nil, want[i].Value == nil)
		}
	}
	for _, bad := range []string{"0,5,17,2,3,kkv", "0,x,1,1,1,k,v,\n", "0,5,1,-1,1,v\n", "0,5,1,-1,1,v,noequals\n"} {
		if _, err := parseKcat([]byte(bad)); err == nil {
			t.Errorf("parseKcat(%q) accepted malformed output", bad)
		}
	}
}
