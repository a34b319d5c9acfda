//go:build !lean

package main

import (
	"bytes"
	"io"
	"testing"
)

// Each command's --format keeps what it accepted before the helper: which
// values pick which printer, and the words of the error for the others.
func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		name  string
		f     formats
		value string
		want  formatKind
		err   string
	}{
		{"info", infoFormats, "", formatText, ""},
		{"info", infoFormats, "text", formatText, ""},
		{"info", infoFormats, "json", formatJSON, ""},
		{"info", infoFormats, "table", 0, `unknown --format "table": use text or json`},
		{"info", infoFormats, "{{.Store}}", 0, `unknown --format "{{.Store}}": use text or json`},
		{"df", dfFormats, "", formatText, ""},
		{"df", dfFormats, "table", formatText, ""},
		{"df", dfFormats, "text", 0, `unknown --format "text": use table or json`},
		{"doctor", doctorFormats, "text", formatText, ""},
		{"doctor", doctorFormats, "json", formatJSON, ""},
		{"doctor", doctorFormats, "", 0, `unknown --format "": use text or json`},
		{"volume ls", volumeFormats, "", formatText, ""},
		{"volume ls", volumeFormats, "json", formatJSON, ""},
		{"volume ls", volumeFormats, "anything", formatText, ""},
		{"images", imagesFormats, "", formatText, ""},
		{"images", imagesFormats, "table", formatText, ""},
		{"images", imagesFormats, "json", formatJSON, ""},
		{"images", imagesFormats, "table {{.ID}}", formatTemplate, ""},
		{"images", imagesFormats, "id", 0, `unknown --format "id": use table, json or a Go template such as '{{.Repository}}:{{.Tag}}'`},
		{"images", imagesFormats, "{{.ID", 0, `--format: template: format:1: unclosed action`},
		{"inspect", inspectFormats, "", formatJSON, ""},
		{"inspect", inspectFormats, "json", formatJSON, ""},
		{"inspect", inspectFormats, "id", formatTemplate, ""},
	} {
		got, err := parseFormat(c.value, c.f)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("%s --format %q: error %v, want %q", c.name, c.value, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s --format %q: %v", c.name, c.value, err)
		case c.err == "" && got.kind != c.want:
			t.Errorf("%s --format %q: kind %d, want %d", c.name, c.value, got.kind, c.want)
		}
	}
}

// images drops one trailing newline of a template; inspect keeps it.
func TestFormatTemplateNewlines(t *testing.T) {
	type row struct{ ID string }
	rows := []row{{"a"}, {"b"}}
	for _, c := range []struct {
		f     formats
		value string
		want  string
	}{
		{imagesFormats, "{{.ID}}", "a\nb\n"},
		{imagesFormats, "{{.ID}}\n", "a\nb\n"},
		{inspectFormats, "{{.ID}}", "a\nb\n"},
		{inspectFormats, "{{.ID}}\n", "a\n\nb\n\n"},
	} {
		f, err := parseFormat(c.value, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := printRows(&out, f, nil, rows, nil); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("--format %q: printed %q, want %q", c.value, out.String(), c.want)
		}
	}
}

func TestFormatPrint(t *testing.T) {
	text := func(w io.Writer) error { _, err := io.WriteString(w, "text\n"); return err }
	var out bytes.Buffer
	if err := (format{kind: formatJSON}).print(&out, map[string][]int{"a": {1}}, text); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"a\": [\n    1\n  ]\n}\n"; out.String() != want {
		t.Errorf("json: %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := (format{kind: formatText}).print(&out, nil, text); err != nil || out.String() != "text\n" {
		t.Errorf("text: %q, %v", out.String(), err)
	}
	f, _ := parseFormat("{{.NoSuchField}}", imagesFormats)
	if err := f.execute(&out, struct{}{}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("--format: ")) {
		t.Errorf("template on a missing field: %v, want a --format error", err)
	}
}

// TestTemplateTrimKeepsRows: a template ending in a trim marker still
// prints one row per line (FuzzParseFormat: the newline used to be part of
// the template, and {{.ID -}} trimmed it away).
func TestTemplateTrimKeepsRows(t *testing.T) {
	for _, c := range []struct {
		f     formats
		value string
	}{{imagesFormats, "{{.ID -}}"}, {inspectFormats, "{{- .ID -}}"}, {imagesFormats, "{{.ID}}\n"}} {
		fm, err := parseFormat(c.value, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, id := range []string{"a", "b"} {
			if err := fm.execute(&b, imageRow{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		if b.String() != "a\nb\n" {
			t.Errorf("%q: %q, want a\\nb\\n", c.value, b.String())
		}
	}
}

// Templates read as Podman's: \t escapes, a table directive with a
// header from the fields' names, and Podman's functions.
func TestTemplateTableAndFuncs(t *testing.T) {
	type row struct {
		ID, Names string
		CreatedAt string
	}
	rows := []row{{"abc", "web", "now"}, {"defghi", "db", "then"}}
	for _, c := range []struct {
		value     string
		f         formats
		noHeading bool
		want      string
	}{
		{`{{.ID}}\t{{.Names}}`, psFormats, false, "abc\tweb\ndefghi\tdb\n"},
		{"table {{.ID}} {{.Names}}", psFormats, false, "CONTAINER ID  NAMES\nabc           web\ndefghi        db\n"},
		// Columns at least 12 wide, 2 apart, as Podman's.
		{"table {{.ID}}  {{.CreatedAt}}", imagesFormats, false, "IMAGE ID    CREATED AT\nabc         now\ndefghi      then\n"},
		{"table {{.ID}} {{.Names}}", psFormats, true, "abc         web\ndefghi      db\n"},
		// Spaces inside an action stay; the header is the template run
		// on the names ("NAMES" has no "e").
		{`table {{join (split .Names "e") " + "}}`, psFormats, false, "NAMES\nw + b\ndb\n"},
		{`{{upper .Names}} {{title .Names}} {{truncate .ID 2}} {{json .Names}} {{lower "X"}} {{pad .Names 1 1}}|`, psFormats, false, "WEB Web ab \"web\" x  web |\nDB Db de \"db\" x  db |\n"},
	} {
		fm, err := parseFormat(c.value, c.f)
		if err != nil {
			t.Fatalf("%q: %v", c.value, err)
		}
		fm.noHeading = c.noHeading
		var out bytes.Buffer
		if err := printRows(&out, fm, nil, rows, nil); err != nil {
			t.Fatalf("%q: %v", c.value, err)
		}
		if out.String() != c.want {
			t.Errorf("%q: got %q, want %q", c.value, out.String(), c.want)
		}
	}
	for in, want := range map[string]string{"ID": "ID", "CreatedAt": "CREATED AT", "ExitCode": "EXIT CODE", "RepoTags": "REPO TAGS", "IPAddress": "IP ADDRESS"} {
		if got := headerWords(in); got != want {
			t.Errorf("headerWords(%q) = %q, want %q", in, got, want)
		}
	}
	// {{.Id}} is {{.ID}} in inspect, and .Identity stays.
	fm, err := parseFormat("{{.Id}} {{.Identity}}", inspectFormats)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := fm.execute(&out, struct{ ID, Identity string }{"x", "y"}); err != nil || out.String() != "x y\n" {
		t.Errorf("inspect {{.Id}}: %q %v", out.String(), err)
	}
}
