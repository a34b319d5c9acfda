package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/urfave/cli/v2"
)

// Every command that prints a report or a listing reads --format here:
// json prints the command's data as JSON indented by two spaces, the
// command's own printer ("text" or "table") is the default, and the
// commands that take Go templates apply them to each row. What each
// command accepts is declared in a formats value next to it, quirks
// included, so that they stay visible.

// formats is what one command's --format accepts besides json.
type formats struct {
	// text names the command's own printer, "text" or "table"; an empty
	// --format picks it too, unless emptyUnknown. "" when the command has
	// none: an empty --format then prints JSON.
	text string
	// emptyUnknown refuses an empty --format (doctor, whose flag spells
	// its default out).
	emptyUnknown bool
	// templates says which values are Go templates.
	templates templateRule
	// headers names the columns of a table template whose names are not
	// their fields' in capitals (ps: "ID" is "CONTAINER ID").
	headers map[string]string
	// idAlias: {{.Id}} is {{.ID}}, as in Podman's inspect.
	idAlias bool
	// advice ends the error for an unknown format ("use text or json").
	// Without it, any other value picks the text printer, as volume ls
	// has always done.
	advice string
}

// templateRule says which --format values are Go templates.
type templateRule int

const (
	noTemplates templateRule = iota
	// bracedTemplates: a value holding "{{"; one trailing newline is
	// dropped, as every row ends with one (images).
	bracedTemplates
	// anyTemplate: every value but json and "", used as given, with a
	// newline after each row (inspect).
	anyTemplate
)

type formatKind int

const (
	formatText formatKind = iota
	formatJSON
	formatTemplate
)

// format is a command's --format, checked against its formats.
type format struct {
	kind formatKind
	tmpl *template.Template
	// table: the template began with "table", as Podman's do: a header
	// row first, and the columns aligned.
	table   bool
	headers map[string]string
	// noHeading: --noheading, a table without its header row.
	noHeading bool
}

// parseFormat checks value against what a command accepts, and parses a
// template.
func parseFormat(value string, f formats) (format, error) {
	switch {
	case value == "json", value == "" && f.text == "":
		return format{kind: formatJSON}, nil
	case value == f.text, value == "" && !f.emptyUnknown:
		return format{kind: formatText}, nil
	case f.templates == anyTemplate, f.templates == bracedTemplates && strings.Contains(value, "{{"):
		if f.idAlias {
			value = idField.ReplaceAllString(value, ".ID$1")
		}
		fm, err := parseTemplate(value, f.templates)
		fm.headers = f.headers
		return fm, err
	case f.advice == "":
		return format{kind: formatText}, nil
	}
	return format{}, fmt.Errorf("unknown --format %q: %s", value, f.advice)
}

func parseTemplate(value string, rule templateRule) (format, error) {
	if rule == bracedTemplates {
		value = strings.TrimSuffix(value, "\n")
	}
	value, table := normalizeTemplate(value)
	// The newline after each row is written by execute, not appended to
	// the template, where a trailing {{- or -}} would trim it away and
	// run the rows together.
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(value)
	if err != nil {
		return format{}, fmt.Errorf("--format: %w", err)
	}
	return format{kind: formatTemplate, tmpl: tmpl, table: table}, nil
}

// idField is .Id in a template, not .Identity or .Ids.
var idField = regexp.MustCompile(`\.Id([^A-Za-z0-9_]|$)`)

// normalizeTemplate reads a template as Podman does: the two-character
// escapes \t and \n are a tab and a newline, and a leading "table" asks
// for a header row and aligned columns, the spaces between the actions
// then separating columns.
func normalizeTemplate(value string) (string, bool) {
	value = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(value)
	rest, table := strings.CutPrefix(value, "table")
	if !table || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return value, false
	}
	rest = strings.TrimLeft(rest, " \t")
	// Spaces outside the actions become tabs; those inside stay, for
	// arguments such as {{join .Names ", "}}.
	var b strings.Builder
	depth := 0
	for i := 0; i < len(rest); i++ {
		switch {
		case strings.HasPrefix(rest[i:], "{{"):
			depth++
			b.WriteString("{{")
			i++
			continue
		case strings.HasPrefix(rest[i:], "}}") && depth > 0:
			depth--
			b.WriteString("}}")
			i++
			continue
		case rest[i] == ' ' && depth == 0:
			// A run of spaces is one column break.
			if !strings.HasSuffix(b.String(), "\t") {
				b.WriteByte('\t')
			}
			continue
		}
		b.WriteByte(rest[i])
	}
	return b.String(), true
}

// templateFuncs are the functions Podman's templates have.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	},
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": titleWords,
	"join":  strings.Join,
	"split": strings.Split,
	"truncate": func(s string, n int) string {
		if n >= 0 && len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", max(before, 0)) + s + strings.Repeat(" ", max(after, 0))
	},
}

// titleWords upper-cases the first letter of each word, as Podman's
// title (strings.Title) does.
func titleWords(s string) string {
	b := []byte(s)
	for i := range b {
		if (i == 0 || b[i-1] == ' ' || b[i-1] == '\t' || b[i-1] == '-' || b[i-1] == '_') && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// tableHeader is the header row of a table template over rows of type
// row: the template run on each field's name in capitals, words split
// at the capitals ("CreatedAt": "CREATED AT"), or the name a command
// gives the column in names.
func tableHeader(row any, names map[string]string) map[string]string {
	h := map[string]string{}
	var fields func(t reflect.Type)
	fields = func(t reflect.Type) {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			switch {
			case f.Anonymous:
				fields(f.Type) // its fields are the row's
			case !f.IsExported():
			case names[f.Name] != "":
				h[f.Name] = names[f.Name]
			default:
				h[f.Name] = headerWords(f.Name)
			}
		}
	}
	fields(reflect.TypeOf(row))
	for m, n := range names {
		if _, ok := h[m]; !ok {
			h[m] = n // methods a template can call, such as Id
		}
	}
	return h
}

// headerWords: "CreatedAt" is "CREATED AT", "ID" stays "ID".
func headerWords(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			prev := name[i-1]
			nextLower := i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z'
			if prev >= 'a' && prev <= 'z' || (prev >= 'A' && prev <= 'Z' && nextLower) {
				b.WriteByte(' ')
			}
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// isTemplate tells whether rows go through a template, for commands that
// print each row as it comes (inspect).
func (f format) isTemplate() bool { return f.kind == formatTemplate }

// print prints data as JSON, or with text, the command's own printer.
// Commands with templates print through printRows or execute; text may be
// nil when JSON is the only other format (inspect).
func (f format) print(w io.Writer, data any, text func(io.Writer) error) error {
	if f.kind == formatJSON {
		return encodeJSON(w, data)
	}
	return text(w)
}

// printRows is print for a command whose templates apply to each of rows.
func printRows[R any](out io.Writer, f format, data any, rows []R, text func(io.Writer) error) error {
	// One write for the whole list: tabwriter and templates write each
	// cell on its own (ps -a of 50 containers made 665 write calls).
	w := bufio.NewWriter(out)
	err := printRowsTo(w, f, data, rows, text)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func printRowsTo[R any](w io.Writer, f format, data any, rows []R, text func(io.Writer) error) error {
	if !f.isTemplate() {
		return f.print(w, data, text)
	}
	if f.table {
		tw := newTable(w)
		// A header a template cannot make (a function given a name, not
		// its value) is left out, not an error: the rows say what is wrong.
		var zero R
		var hb bytes.Buffer
		if !f.noHeading && f.tmpl.Option("missingkey=zero").Execute(&hb, tableHeader(zero, f.headers)) == nil {
			hb.WriteByte('\n')
			tw.Write(hb.Bytes())
		}
		w = tw
		defer tw.Flush()
	}
	for _, r := range rows {
		if err := f.execute(w, r); err != nil {
			return err
		}
	}
	return nil
}

// execute prints one row through the template.
func (f format) execute(w io.Writer, row any) error {
	if err := f.tmpl.Execute(w, row); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// encodeJSON writes v as JSON indented by two spaces, with a newline.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable aligns a table's columns as Podman's do: each at least 12
// wide, two spaces between them.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 12, 2, 2, ' ', 0) }

// idColumn is an ID as listings print it: 12 digits unless --no-trunc.
func idColumn(c *cli.Context, id string) string {
	if c.Bool("no-trunc") {
		return id
	}
	return id[:12]
}
