//go:build !lean

package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// limitedWriter fails once a template has written more than its n bytes,
// so that a fuzzed template cannot fill memory.
type limitedWriter struct {
	bytes.Buffer
	n int
}

var errTooMuch = errors.New("too much output")

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.n {
		return 0, errTooMuch
	}
	return w.Buffer.Write(p)
}

// FuzzParseFormat checks every command's --format rules: json is JSON,
// the command's own name for its printer is that printer, only the
// commands with templates parse one, an unknown value is refused with the
// command's advice, and a template prints each row on its own line.
func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"", "json", "text", "table", "{{.ID}}", "table {{.Repository}}:{{.Tag}}", "{{.ID}}\n", "{{.ID}}\n\n",
		"{{.ID -}}", "{{.Nope}}", "{{.ID", "{{json .}}", "{{range .}}{{end}}", "{{template \"x\"}}", "{{- .Tag -}}", "{{\"\\n\" -}}"} {
		f.Add(s)
	}
	all := map[string]formats{
		"info": infoFormats, "df": dfFormats, "doctor": doctorFormats, "volume ls": volumeFormats,
		"images": imagesFormats, "inspect": inspectFormats,
	}
	row := imageRow{Repository: "localhost/a", Tag: "latest", ID: "0123456789ab", Digest: "sha256:00", CreatedAt: time.Unix(0, 0).UTC(), CreatedSince: "1 day ago", Size: "1 MB"}
	f.Fuzz(func(t *testing.T, value string) {
		for cmd, fs := range all {
			fm, err := parseFormat(value, fs)
			if err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, "--format: ") && !(fs.advice != "" && strings.HasSuffix(msg, ": "+fs.advice)) {
					t.Fatalf("%s %q: error %q says neither --format nor the advice", cmd, value, msg)
				}
				if fs.templates == noTemplates && strings.HasPrefix(msg, "--format: ") {
					t.Fatalf("%s %q: a template error from a command without templates", cmd, value)
				}
				continue
			}
			switch {
			case value == "json" && fm.kind != formatJSON:
				t.Fatalf("%s json: kind %v", cmd, fm.kind)
			case value != "" && value == fs.text && fm.kind != formatText:
				t.Fatalf("%s %q: kind %v, want its printer", cmd, value, fm.kind)
			case fm.kind == formatTemplate && (fs.templates == noTemplates || fs.templates == bracedTemplates && !strings.Contains(value, "{{")):
				t.Fatalf("%s %q: parsed as a template", cmd, value)
			case fm.kind == formatText && fs.advice != "" && value != fs.text && value != "":
				t.Fatalf("%s %q: an unknown format picks the printer despite advice", cmd, value)
			}
			if fm.kind != formatTemplate || strings.Contains(value, "range") {
				continue // a range over a huge number is the user's own long wait
			}
			// Rows come out one per line, however the template ends.
			var w limitedWriter
			w.n = 1 << 16
			n := 0
			for range 3 {
				if err := fm.execute(&w, row); err != nil {
					if !strings.HasPrefix(err.Error(), "--format: ") {
						t.Fatalf("%s %q: execute error %v", cmd, value, err)
					}
					n = -1
					break
				}
				n++
				if !strings.HasSuffix(w.String(), "\n") {
					t.Fatalf("%s %q: row %d does not end its line: %q", cmd, value, n, w.String())
				}
			}
		}
	})
}
