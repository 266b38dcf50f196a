package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/report"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is what every console page sends: scripts, styles and
// connections from this origin only, no inline script or style, no plugins,
// no framing, forms posting only here.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// assets are the static files, each served under a name carrying a hash of
// its content so it can be cached for a year and never goes stale.
type assets struct {
	// byName maps the hashed name ("app.3f2a9c1b.css") to the file.
	byName map[string]asset
	// url maps the plain name ("app.css") to its URL.
	url map[string]string
}

type asset struct {
	body        []byte
	contentType string
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]asset{}, url: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := path.Base(p)
		if strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".md") {
			return nil // licence notes stay in the repository
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		ct := mime.TypeByExtension(ext)
		if ext == ".js" {
			ct = "text/javascript; charset=utf-8"
		}
		a.byName[hashed] = asset{body: b, contentType: ct}
		a.url[name] = "/static/" + hashed
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: load static files: %w", err)
	}
	return a, nil
}

func (c *Console) serveStatic(ec echo.Context) error {
	f, ok := c.static.byName[ec.Param("name")]
	if !ok {
		return &pageError{status: http.StatusNotFound, title: "Not found", detail: "No such file."}
	}
	h := ec.Response().Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	return ec.Blob(http.StatusOK, f.contentType, f.body)
}

// pages are the parsed templates, one set per page with the layout.
type pages struct {
	byName map[string]*template.Template
}

func parsePages(st *assets) (*pages, error) {
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			u, ok := st.url[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return u, nil
		},
		"money":   report.Money,
		"join":    func(v []string) string { return strings.Join(v, ", ") },
		"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"figure":  figureText,
		"family":  familyName,
		"split":   splitRecommendation,
		"num":     formatNumber,
		"delta":   formatDelta,
		"lower":   strings.ToLower,
		"title":   titleCase,
		"has":     func(m map[string]string, k string) bool { _, ok := m[k]; return ok },
		"fieldID": fieldID,
		"add":     func(a, b int) int { return a + b },
		"inp": func(page formState, name, label, hint string) fieldView {
			vals := page.FormValues()[name]
			return fieldView{Name: name, Label: label, Hint: hint, Value: strings.Join(vals, "\n"), Values: vals, Fields: page.FormErrors()}
		},
		"sel": func(page formState, name, label string, options []option, blank bool) fieldView {
			vals := page.FormValues()[name]
			return fieldView{Name: name, Label: label, Value: first(vals), Values: vals, Fields: page.FormErrors(), Options: options, Blank: blank}
		},
		"options": opts,
		"changes": func(rows []report.MetricChange, baseLabel, label, caption string) changesView {
			return changesView{Rows: rows, BaseLabel: baseLabel, Label: label, Caption: caption}
		},
		"delta2": func(v *float64) string {
			if v == nil {
				return "—"
			}
			return formatNumber(*v)
		},
		"pct": func(v *float64) string {
			if v == nil {
				return "—"
			}
			return fmt.Sprintf("%+.1f%%", *v)
		},
		"sfield": func(name, label, value string, fields map[string]string, auto string) inputView {
			return inputView{Name: name, Label: label, Value: value, Fields: fields, Auto: auto}
		},
		"rng": rangeText,
		"rngp": func(r *api.EstimateRange) string {
			if r == nil {
				return "—"
			}
			return rangeText(*r)
		},
		"usd":   usdRange,
		"short": shortNumber,
		"contains": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
	}
	// Files named _*.tmpl are parts every page may include.
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.tmpl", "templates/fields.tmpl", "templates/_*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	entries, err := fs.Glob(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("console: list templates: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, e := range entries {
		name := strings.TrimSuffix(path.Base(e), ".tmpl")
		if name == "layout" || name == "fields" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, e)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", e, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// inputView is one labelled input of a small form.
type inputView struct {
	Name, Label, Value, Auto string
	Fields                   map[string]string
}

// changesView is one side-by-side table of a comparison.
type changesView struct {
	Rows                      []report.MetricChange
	BaseLabel, Label, Caption string
}

// formState is a page with a form: the submitted values and the errors by field.
type formState interface {
	FormValues() map[string][]string
	FormErrors() map[string]string
}

// fieldView is one input of a guided form.
type fieldView struct {
	Name, Label, Hint, Value string
	Values                   []string
	Fields                   map[string]string
	Options                  []option
	Blank                    bool
}

// layoutView is what the layout reads around every page.
type layoutView struct {
	Title string
	Who   *signedIn
	CSRF  string
	// Nav marks the current section for aria-current.
	Nav  string
	Page any
	// Can holds the API routes the caller may call, for links and buttons.
	Can map[string]bool
	// Sections are the settings sections the caller may open.
	Sections []section
}

// InSettings reports whether the page is a settings section.
func (v layoutView) InSettings() bool { return strings.HasPrefix(v.Nav, "settings-") }

// render writes a page inside the layout with the console's headers.
func (c *Console) render(ec echo.Context, status int, name, title string, page any) error {
	t, ok := c.pages.byName[name]
	if !ok {
		return fmt.Errorf("console: no page template %q", name)
	}
	v := layoutView{Title: title, Who: whoOf(claims(ec)), CSRF: c.csrfToken(ec), Page: page, Nav: name, Can: map[string]bool{}}
	if v.Who != nil {
		// Every page's API route, so a template can show only the links
		// and buttons the caller's role may use.
		for _, r := range c.routes(nil) {
			if r.API != "" {
				v.Can[r.API] = c.can(ec, r.API)
			}
		}
	}
	for _, s := range settingsSections() {
		if v.Who != nil && c.can(ec, s.API) {
			v.Sections = append(v.Sections, s)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	return ec.HTMLBlob(status, buf.Bytes())
}

// pageError is an error page a handler asks for.
type pageError struct {
	status        int
	title, detail string
	// signIn offers the sign-in link.
	signIn bool
}

func (e *pageError) Error() string { return e.title + ": " + e.detail }

// errorView is the error page.
type errorView struct {
	Status        int
	Title, Detail string
	SignIn        bool
	RequestID     string
}

// handleError is the console's echo error handler: every error is an HTML
// page with the status the API would answer, and server failures are logged
// with their cause, which the page never shows.
func (c *Console) handleError(err error, ec echo.Context) {
	if ec.Response().Committed {
		return
	}
	v := errorView{RequestID: ec.Response().Header().Get(echo.HeaderXRequestID)}
	var pe *pageError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &pe):
		v.Status, v.Title, v.Detail, v.SignIn = pe.status, pe.title, pe.detail, pe.signIn
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		v.Status, v.Title, v.Detail = http.StatusNotFound, "Not found", "There is no page at this address."
	case errors.As(err, &he) && he.Code < 500:
		v.Status, v.Title, v.Detail = he.Code, http.StatusText(he.Code), http.StatusText(he.Code)+"."
	default:
		x := c.d.Explain(err)
		v.Status, v.Title, v.Detail = x.Status, x.Title, x.Detail
		if x.Status == http.StatusNotFound {
			// Another tenant's id reads like a missing one, as in the API.
			v.Title, v.Detail = "Not found", "There is no such assessment in your tenant."
		}
	}
	if v.Status >= 500 && pe == nil {
		c.log.ErrorContext(ec.Request().Context(), "console page failed", slog.String("error", err.Error()),
			slog.String("path", ec.Request().URL.Path), slog.String("request_id", v.RequestID))
		v.Title, v.Detail = "Something went wrong", "The page could not be shown. Try again, and quote the request id if it keeps failing."
	}
	if rerr := c.render(ec, v.Status, "error", v.Title, v); rerr != nil {
		c.log.ErrorContext(ec.Request().Context(), "console error page failed", slog.String("error", rerr.Error()))
		_ = ec.String(v.Status, v.Title)
	}
}

// SecurityHeaders sets the console's response headers: the CSP, no framing,
// no sniffing, no referrer, and no caching of pages (they hold tenant data).
func SecurityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		h := ec.Response().Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		return next(ec)
	}
}

// fieldID turns a request field path ("workloads[0].model") into an HTML id.
func fieldID(field string) string {
	r := strings.NewReplacer("[", "-", "]", "", ".", "-", "_", "-")
	return "f-" + r.Replace(field)
}

func titleCase(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func formatNumber(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e15 && v > -1e15:
		return fmt.Sprintf("%d", int64(v))
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

func formatDelta(v *float64) string {
	if v == nil {
		return "—"
	}
	if *v > 0 {
		return "+" + formatNumber(*v)
	}
	return formatNumber(*v)
}
