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
