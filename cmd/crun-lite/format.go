package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
		return parseTemplate(value, f.templates)
	case f.advice == "":
		return format{kind: formatText}, nil
	}
	return format{}, fmt.Errorf("unknown --format %q: %s", value, f.advice)
}

func parseTemplate(value string, rule templateRule) (format, error) {
	if rule == bracedTemplates {
		value = strings.TrimSuffix(value, "\n")
	}
	// The newline after each row is written by execute, not appended to
	// the template, where a trailing {{- or -}} would trim it away and
	// run the rows together.
	tmpl, err := template.New("format").Parse(value)
	if err != nil {
		return format{}, fmt.Errorf("--format: %w", err)
	}
	return format{kind: formatTemplate, tmpl: tmpl}, nil
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

// idColumn is an ID as listings print it: 12 digits unless --no-trunc.
func idColumn(c *cli.Context, id string) string {
	if c.Bool("no-trunc") {
		return id
	}
	return id[:12]
}
