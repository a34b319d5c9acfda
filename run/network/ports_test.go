package network

import (
	"reflect"
	"testing"
)

func TestParsePublish(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Port
	}{
		{"80", []Port{{CtrPort: 80, Proto: "tcp"}}},
		{"8080:80", []Port{{HostPort: 8080, CtrPort: 80, Proto: "tcp"}}},
		{"127.0.0.1:8080:80/udp", []Port{{HostIP: "127.0.0.1", HostPort: 8080, CtrPort: 80, Proto: "udp"}}},
		{"127.0.0.1::80", []Port{{HostIP: "127.0.0.1", CtrPort: 80, Proto: "tcp"}}},
		{"0.0.0.0:8080:80", []Port{{HostPort: 8080, CtrPort: 80, Proto: "tcp"}}},
		{"[::1]:8080:80", []Port{{HostIP: "::1", HostPort: 8080, CtrPort: 80, Proto: "tcp"}}},
		{"9000-9001:7000-7001", []Port{{HostPort: 9000, CtrPort: 7000, Proto: "tcp"}, {HostPort: 9001, CtrPort: 7001, Proto: "tcp"}}},
		{"7000-7001", []Port{{CtrPort: 7000, Proto: "tcp"}, {CtrPort: 7001, Proto: "tcp"}}},
	} {
		got, err := ParsePublish(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "x", "0", "65536", "80/sctp", "1:2:3:4", "nope:80:80", "9000-9001:80", "90-80", "[::1]8080:80", "8080:"} {
		if got, err := ParsePublish(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, got)
		}
	}
}

func TestPortString(t *testing.T) {
	if got := (Port{HostPort: 8080, CtrPort: 80, Proto: "tcp"}).String(); got != "80/tcp -> 0.0.0.0:8080" {
		t.Errorf("got %q", got)
	}
	if got := (Port{HostIP: "::1", HostPort: 8080, CtrPort: 80, Proto: "udp"}).String(); got != "80/udp -> [::1]:8080" {
		t.Errorf("got %q", got)
	}
}

func TestCheckPorts(t *testing.T) {
	start := UnprivilegedPortStart()
	if start < 2 {
		t.Skipf("every port is unprivileged here (%d)", start)
	}
	if err := CheckPorts([]Port{{HostPort: start - 1, CtrPort: 80}}, true); err == nil {
		t.Errorf("port %d accepted for a user", start-1)
	}
	if err := CheckPorts([]Port{{HostPort: start - 1, CtrPort: 80}}, false); err != nil {
		t.Errorf("root refused: %v", err)
	}
	if err := CheckPorts([]Port{{CtrPort: 80}, {HostPort: start, CtrPort: 80}}, true); err != nil {
		t.Errorf("free choice refused: %v", err)
	}
}
