package spec

import (
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// ParseSignal reads a signal as Podman takes it: a name with or without SIG
// (TERM, SIGTERM, sigterm) or a number.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, BadOption("signal %s: want a name (SIGTERM) or a number from 1 to 64", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, BadOption("unknown signal %q: want a name (SIGTERM, HUP) or a number", s)
}

// parseLogOpts reads --log-opt values; max-size=SIZE (10mb, 512k, -1 for
// none) is the one Podman's k8s-file driver knows that applies here.
func parseLogOpts(opts []string) (maxSize int64, err error) {
	maxSize = -1
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "max-size":
			if v == "-1" {
				maxSize = -1
				continue
			}
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return 0, BadOption("--log-opt max-size=%s: want a size such as 10mb or 512k", v)
			}
			maxSize = n
		default:
			return 0, BadOption("--log-opt %s: only max-size=SIZE is supported", o)
		}
	}
	return maxSize, nil
}
