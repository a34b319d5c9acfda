package userns

import (
	"reflect"
	"testing"
)

func TestParseSubIDFile(t *testing.T) {
	data := []byte("alice:100000:65536\nbob:165536:65536\n# comment\n1000:300000:10\nalice:bad:1\nalice:500000:0\n")
	got := parseSubIDFile(data, "alice", 1000)
	want := []Range{{100000, 65536}, {300000, 10}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if r := parseSubIDFile(data, "carol", 1002); r != nil {
		t.Fatalf("carol has no range, got %v", r)
	}
}

func TestParseGetsubids(t *testing.T) {
	got := parseGetsubids([]byte("0: alice 100000 65536\n1: alice 300000 1000\n"))
	want := []Range{{100000, 65536}, {300000, 1000}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestMapArgs(t *testing.T) {
	got := MapArgs(1000, []Range{{100000, 65536}, {300000, 10}})
	want := []string{"0", "1000", "1", "1", "100000", "65536", "65537", "300000", "10"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestRangesWithinIDSpace: ranges past the last id are malformed lines,
// not ranges whose end overflows (a line like these made Range.End
// negative); MapArgs cuts a total larger than a namespace holds.
func TestRangesWithinIDSpace(t *testing.T) {
	data := []byte("a:9223372036854775807:1\na:4294967294:2\na:1:99999999999999999\na:4294967293:2\n")
	if got, want := parseSubIDFile(data, "a", 1), []Range{{4294967293, 2}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := parseOwners(data); len(got) != 1 {
		t.Fatalf("parseOwners: %v, want the last line only", got)
	}
	got := MapArgs(1000, []Range{{1, 3000000000}, {3000000001, 1294967293}, {10, 5}, {20, 5}})
	want := []string{"0", "1000", "1", "1", "1", "3000000000", "3000000001", "3000000001", "1294967293", "4294967294", "10", "1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MapArgs: got %v, want %v", got, want)
	}
}
