package config

import "strings"

// Errors is every error found in a config (and the files it includes). Load
// returns it as its error so a caller can print each on its own line.
type Errors struct {
	List []Diagnostic `json:"errors"`
	// Warnings are what was noticed besides the errors.
	Warnings []Diagnostic `json:"warnings,omitempty"`
}

func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, d := range e.List {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// diags collects what the reader says about a config.
type diags struct {
	errs  []Diagnostic
	warns []Diagnostic
}

func (d *diags) errorf(p Pos, format string, args ...any) {
	d.errs = append(d.errs, Diagnostic{Pos: p, Message: sprintf(format, args...)})
}

func (d *diags) warnf(p Pos, format string, args ...any) {
	d.warns = append(d.warns, Diagnostic{Pos: p, Message: sprintf(format, args...)})
}
