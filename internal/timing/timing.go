// Package timing records how long each phase of a command takes, for
// --timing. A nil *Recorder records nothing and costs a nil check.
package timing

import (
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

type mark struct {
	phase string
	at    time.Time
}

// Recorder collects phase boundaries.
type Recorder struct {
	begin time.Time
	marks []mark
}

// New starts a recorder. Its first phase, "process start", runs from
// begin (when the process's first code ran) to now.
func New(begin time.Time) *Recorder {
	now := time.Now()
	if begin.IsZero() || begin.After(now) {
		begin = now
	}
	return &Recorder{begin: begin, marks: []mark{{"process start", now}}}
}

// Mark ends the phase called phase.
func (r *Recorder) Mark(phase string) {
	if r != nil {
		r.marks = append(r.marks, mark{phase, time.Now()})
	}
}

// MarkMono ends phase at ns, a CLOCK_MONOTONIC time taken by another
// process (the container's first process reports its own steps).
func (r *Recorder) MarkMono(phase string, ns uint64) {
	if r == nil {
		return
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return
	}
	now := time.Now()
	r.marks = append(r.marks, mark{phase, now.Add(-time.Duration(uint64(ts.Nano()) - ns))})
}

// Print writes one line per phase and the total.
func (r *Recorder) Print(w io.Writer) {
	if r == nil {
		return
	}
	prev := r.begin
	for _, m := range r.marks {
		fmt.Fprintf(w, "%-22s %8.3f ms\n", m.phase, ms(m.at.Sub(prev)))
		prev = m.at
	}
	fmt.Fprintf(w, "%-22s %8.3f ms\n", "total", ms(prev.Sub(r.begin)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
