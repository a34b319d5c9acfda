package run

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"time"

	"github.com/crun-lite/crun-lite/store"
)

// LogOptions select what Logs prints, as podman logs does.
type LogOptions struct {
	Follow     bool      // -f: go on printing until the container exits
	Since      time.Time // only lines from then on (zero: all)
	Until      time.Time // only lines before then (zero: all)
	Tail       int       // only the last N lines (-1: all)
	Timestamps bool      // -t: each line starts with its time
}

// logLine is one line of a k8s-file log (run/monitor/monitor.c):
// "TIME STREAM F|P CONTENT".
type logLine struct {
	time    time.Time
	stderr  bool
	partial bool
	content []byte
}

func parseLogLine(b []byte) (logLine, bool) {
	var l logLine
	f := bytes.SplitN(b, []byte(" "), 4)
	if len(f) < 3 {
		return l, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return l, false
	}
	l.time, l.stderr, l.partial = t, string(f[1]) == "stderr", string(f[2]) == "P"
	if len(f) == 4 {
		l.content = f[3]
	}
	return l, true
}

// LogFile is where the container's log is ("" for none: a foreground run
// writes none).
func (in *Info) LogFile(st *store.Store) string {
	if in.LogPath != "" {
		return in.LogPath
	}
	if in.Kept {
		if p, err := st.ContainerLogPath(in.ID); err == nil {
			return p
		}
	}
	return ""
}

// Logs prints the container's log: stdout lines to stdout, stderr lines to
// stderr.
func (in *Info) Logs(st *store.Store, o LogOptions, stdout, stderr io.Writer) error {
	path := in.LogFile(st)
	if path == "" {
		return nil
	}
	var lines []logLine
	for _, p := range []string{path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, raw := range bytes.Split(b, []byte("\n")) {
			if l, ok := parseLogLine(raw); ok && o.keep(l) {
				lines = append(lines, l)
			}
		}
	}
	if o.Tail >= 0 {
		lines = tailLines(lines, o.Tail)
	}
	w := logWriter{o: o, stdout: stdout, stderr: stderr}
	for _, l := range lines {
		w.write(l)
	}
	if !o.Follow || in.Status != "running" {
		return nil
	}
	return in.follow(path, o, &w)
}

func (o LogOptions) keep(l logLine) bool {
	return (o.Since.IsZero() || !l.time.Before(o.Since)) && (o.Until.IsZero() || l.time.Before(o.Until))
}

// tailLines keeps the last n lines, a line being a run of P parts ending
// with an F.
func tailLines(lines []logLine, n int) []logLine {
	whole := 0
	for i := len(lines) - 1; i >= 0; i-- {
		if !lines[i].partial || i == len(lines)-1 {
			if whole == n {
				return lines[i+1:]
			}
			whole++
		}
	}
	return lines
}

type logWriter struct {
	o              LogOptions
	stdout, stderr io.Writer
	midLine        bool
}

func (w *logWriter) write(l logLine) {
	out := w.stdout
	if l.stderr {
		out = w.stderr
	}
	var b []byte
	if w.o.Timestamps && !w.midLine {
		b = append(b, l.time.Format(time.RFC3339Nano)...)
		b = append(b, ' ')
	}
	b = append(b, l.content...)
	if !l.partial {
		b = append(b, '\n')
	}
	w.midLine = l.partial
	_, _ = out.Write(b)
}

// follow prints what the monitor appends to the log until the container
// exits (and its last lines are read).
func (in *Info) follow(path string, o LogOptions, w *logWriter) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer func() { f.Close() }()
	fi, _ := f.Stat()
	var off int64
	if fi != nil {
		off = fi.Size()
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReader(f)
	var pending []byte
	for {
		running := in.Running()
		for {
			b, err := r.ReadBytes('\n')
			pending = append(pending, b...)
			if err != nil {
				break
			}
			if l, ok := parseLogLine(bytes.TrimSuffix(pending, []byte("\n"))); ok && o.keep(l) {
				w.write(l)
			}
			pending = pending[:0]
		}
		if !running {
			return nil
		}
		// A rotation (monitor.c renames the log to .1) starts a new file.
		if cur, err := os.Stat(path); err == nil {
			if old, err := f.Stat(); err == nil && !os.SameFile(cur, old) {
				if nf, err := os.Open(path); err == nil {
					f.Close()
					f, r, pending = nf, bufio.NewReader(nf), pending[:0]
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
