package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The defaults of Podman (containers/common's DefaultMaskedPaths and
// DefaultReadOnlyPaths) and of runc (runc spec), copied here so that a path
// dropped from crun-lite's lists fails the test.
var (
	podmanMasked = []string{
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/sched_debug",
		"/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap",
		"/sys/firmware", "/sys/fs/selinux", "/proc/interrupts",
	}
	podmanReadonly = []string{"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	runcMasked     = []string{
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
	}
	runcReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

func TestDefaultMaskedPaths(t *testing.T) {
	masked, readonly := maskedPaths(false, securityOpts{})
	for _, p := range append(podmanMasked, runcMasked...) {
		if !slices.Contains(masked, p) {
			t.Errorf("%s is not masked", p)
		}
	}
	for _, p := range append(podmanReadonly, runcReadonly...) {
		if !slices.Contains(readonly, p) {
			t.Errorf("%s is not read-only", p)
		}
	}
	// runc masks /proc/asound; Podman, whose choice this is, makes it read-only.
	if !slices.Contains(readonly, "/proc/asound") {
		t.Errorf("/proc/asound is not protected")
	}
	if m, r := maskedPaths(true, securityOpts{}); len(m) != 0 || len(r) != 0 {
		t.Errorf("--privileged keeps %v and %v", m, r)
	}
	if m, r := maskedPaths(false, securityOpts{unmaskedAll: true, unmask: []string{"ALL"}, mask: []string{"/proc/cpuinfo"}}); !slices.Equal(m, []string{"/proc/cpuinfo"}) || len(r) != 0 {
		t.Errorf("unmask=ALL,mask=/proc/cpuinfo: %v and %v", m, r)
	}
	m, r := maskedPaths(false, securityOpts{unmask: []string{"/proc/keys", "/proc/sys"}})
	if slices.Contains(m, "/proc/keys") || slices.Contains(r, "/proc/sys") || !slices.Contains(m, "/proc/kcore") {
		t.Errorf("unmask=/proc/keys:/proc/sys: %v and %v", m, r)
	}
}

// The per-CPU thermal throttling directories are found wherever the kernel
// has them (not on every machine, so a tree stands in for /sys here).
func TestMaskedGlobs(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"cpu0/thermal_throttle", "cpu1/thermal_throttle", "cpufreq", "cpu2"} {
		if err := os.MkdirAll(filepath.Join(root, "sys/devices/system/cpu", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := globUnder(root, defaultMaskedGlobs)
	want := []string{"/sys/devices/system/cpu/cpu0/thermal_throttle", "/sys/devices/system/cpu/cpu1/thermal_throttle"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
