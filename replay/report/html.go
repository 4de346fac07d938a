package report

import (
	_ "embed"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate escapes by context (element text, attribute, URL): nothing
// from a capture is ever written into the page unescaped.
var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML writes the report as one self-contained HTML page: inline CSS (with
// print rules), an inline SVG timeline, no script, no external resource.
func HTML(w io.Writer, e *Evidence) error {
	return htmlTemplate.Execute(w, newView(e))
}
