package ui

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// assets are the templates, the stylesheet and the script, built into the
// binary: the dashboard needs no build step and no files beside it.
//
//go:embed templates static
var assets embed.FS

// pageTemplate is one page: the layout and partials with the page's
// blocks.
type pageTemplate struct {
	t *template.Template
}

// parsePages parses every page in templates/pages with the layout and the
// partials.
func parsePages(funcs template.FuncMap) (map[string]*pageTemplate, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parse layout: %w", err)
	}
	files, err := fs.Glob(assets, "templates/pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: list pages: %w", err)
	}
	pages := make(map[string]*pageTemplate, len(files))
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("ui: clone layout: %w", err)
		}
		if _, err := t.ParseFS(assets, f); err != nil {
			return nil, fmt.Errorf("ui: parse %s: %w", f, err)
		}
		pages[strings.TrimSuffix(path.Base(f), ".html")] = &pageTemplate{t: t}
	}
	return pages, nil
}

// funcs are the template functions. None of them returns template.HTML or
// another trusted type: everything they produce is escaped by
// html/template like any other string.
func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		// path builds a dashboard URL path, escaping each argument as a
		// path segment.
		"path": u.path,
		// query builds a query string from name, value pairs.
		"query": func(kv ...string) string {
			q := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					q.Set(kv[i], kv[i+1])
				}
			}
			return q.Encode()
		},
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"timeptr": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"isotime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		// maskedHeaders shows an endpoint's static headers with their
		// values masked, as the API does.
		"maskedHeaders": rules.MaskedHeaders,
		// schedule shows a retry schedule as the form takes it.
		"schedule": rules.FormatSchedule,
		"list":     func(s ...string) []string { return s },
		// dtlocal formats t for a datetime-local input, in UTC.
		"dtlocal": func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") },
		"ago":     func(t time.Time) string { return ago(u.now(), t) },
		"dur":     fmtDuration,
		"span":    fmtSpan,
		// httpClass names the CSS class of an HTTP status: 2xx ok, other
		// responses fail, no response none.
		"httpClass": func(code int) string {
			switch {
			case code == 0:
				return "none"
			case code >= 200 && code < 300:
				return "ok"
			}
			return "fail"
		},
		"statusClass": func(s store.DeliveryStatus) string {
			switch s {
			case store.StatusSucceeded:
				return "ok"
			case store.StatusFailed:
				return "fail"
			case store.StatusPending:
				return "pend"
			}
			return "none"
		},
		"inc":       func(i int) int { return i + 1 },
		"join":      strings.Join,
		"hasPrefix": strings.HasPrefix,
		"string":    func(b []byte) string { return string(b) },
		"tenant": func(t string) string {
			if t == "" {
				return "(default)"
			}
			return t
		},
	}
}

// ago says how long before now t was, roughly.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + fmtRough(-d)
	case d < 5*time.Second:
		return "just now"
	}
	return fmtRough(d) + " ago"
}

// fmtRough formats d in its largest whole unit: 42s, 5m, 3h, 2d.
func fmtRough(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// fmtSpan formats a setting's length of time in its largest exact units:
// 30d, 24h, 1h30m, 5m, 1m30s. Days only from two days up, so that the
// default dedupe window reads 24h.
func fmtSpan(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	var b strings.Builder
	if d >= 48*time.Hour {
		fmt.Fprintf(&b, "%dd", d/(24*time.Hour))
		d %= 24 * time.Hour
	}
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return d.String()
	}
	return b.String()
}

// fmtDuration formats a latency in milliseconds.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
