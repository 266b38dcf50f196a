package console

import (
	"errors"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// listPageSize is how many assessments one page of the list shows.
const listPageSize = 20

// listScanLimit bounds how many assessments one filtered page reads before
// it shows what it found and offers to look further.
const listScanLimit = 500

// listView is the assessments page.
type listView struct {
	Items []listItem
	// Status is the status filter ("" for all); Statuses are its choices.
	Status   string
	Statuses []string
	// Next is the URL of the next page, empty on the last.
	Next, First string
	// Scanned is how many assessments a filtered page read when it stopped
	// looking before its page was full (0 when it did not).
	Scanned int
	// Deleted names the assessment just deleted, for the notice.
	Deleted string
}

type listItem struct {
	ID, Name, Status, Kind string
	Created                time.Time
	Done, Total            int
	// Cost is the on-demand monthly cost range of a finished plan.
	Cost app.CostRange
}

// validID mirrors the API's check: ids are UUID characters only.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-') {
			return false
		}
	}
	return true
}

func notFoundPage() *pageError {
	return &pageError{status: http.StatusNotFound, title: "Not found", detail: "There is no such assessment in your tenant."}
}

// pathID is the :id parameter, or the not-found page for one that cannot exist.
func pathID(ec echo.Context, name string) (string, error) {
	id := ec.Param(name)
	if !validID(id) {
		return "", notFoundPage()
	}
	return id, nil
}

// listPage shows the tenant's assessments newest first, a page at a time
// (keyset cursor from the use case), optionally only those of one status.
func (c *Console) listPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	status := ec.QueryParam("status")
	v := listView{Status: status}
	if d := ec.QueryParam("deleted"); validID(d) {
		v.Deleted = d
	}
	for _, s := range []assessment.Status{assessment.StatusQueued, assessment.StatusRunning, assessment.StatusCompleted,
		assessment.StatusPartial, assessment.StatusFailed} {
		v.Statuses = append(v.Statuses, string(s))
	}
	if status != "" && !contains(v.Statuses, status) {
		return &pageError{status: http.StatusBadRequest, title: "Invalid filter", detail: "status: must be one of queued, running, completed, partial or failed"}
	}
	cursor := ec.QueryParam("cursor")
	// The use case pages by date, not by status. With a filter, read on
	// from the cursor, asking each time for no more assessments than the
	// page still has room for: whatever a read returns is either shown or
	// not a match, so the next cursor (after the last one read) skips
	// nothing and repeats nothing, and no page holds more than
	// listPageSize. A tenant with few matches among many assessments is
	// read listScanLimit at a time; the page then says how far it looked
	// and offers to look further from there.
	scanned := 0
	for {
		limit := listPageSize - len(v.Items)
		page, err := c.d.Assessments.List(ctx, caller(ec).Tenant, store.ListOptions{Limit: limit, Cursor: cursor})
		if err != nil {
			if errors.Is(err, store.ErrBadCursor) {
				return &pageError{status: http.StatusBadRequest, title: "Invalid page", detail: "cursor: is not a cursor this list gave; start again from the first page"}
			}
			return err
		}
		scanned += len(page.Items)
		for _, a := range page.Items {
			if status != "" && a.Status != status {
				continue
			}
			it := listItem{ID: a.ID, Name: a.Name, Status: a.Status, Kind: a.Kind, Created: a.CreatedAt, Total: len(a.Families)}
			if assessment.Status(a.Status).Terminal() {
				// The report's cost (through the report cache); an
				// assessment without a report shows none.
				if cost, err := c.d.Reports.MonthlyCost(ctx, caller(ec).Tenant, a.ID); err == nil {
					it.Cost = cost
				}
			}
			for _, f := range a.Families {
				if f.Status == store.FamilyCompleted {
					it.Done++
				}
			}
			v.Items = append(v.Items, it)
		}
		cursor = page.NextCursor
		if len(v.Items) >= listPageSize || cursor == "" {
			break
		}
		if scanned >= listScanLimit {
			v.Scanned = scanned
			break
		}
	}
	if cursor != "" {
		q := "?cursor=" + cursor
		if status != "" {
			q += "&status=" + status
		}
		v.Next = "/assessments" + q
	}
	if ec.QueryParam("cursor") != "" {
		v.First = "/assessments"
		if status != "" {
			v.First += "?status=" + status
		}
	}
	return c.render(ec, http.StatusOK, "assessments", "Assessments", v)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// progressView is the live progress page.
type progressView struct {
	ID, Name, Status, Kind string
	Terminal               bool
	Families               []familyView
	// Then is where the page goes once the assessment ends.
	Then string
	// EventsURL is the event stream the page's script follows.
	EventsURL string
	Reason    string
	Created   time.Time
}

type familyView struct {
	Name, Status, Summary string
}

// thenURL is where an assessment's pages lead once it ends: the report of
// a base or version, the comparison of a scenario.
func thenURL(a store.Assessment) string {
	switch a.Kind {
	case store.KindScenario:
		return "/assessments/" + a.ParentID + "/scenarios/" + a.ID
	case store.KindVersion:
		return "/assessments/" + a.ParentID + "/versions/diff?from=1&to=" + strconv.Itoa(a.Version)
	}
	return "/assessments/" + a.ID + "/report"
}

// progressPage shows the six families; the script lights each up as its
// event arrives (replayed from the start after a reload) and opens the
// report when the completed event comes.
func (c *Console) progressPage(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	a, err := c.d.Assessments.Get(ec.Request().Context(), caller(ec).Tenant, id)
	if err != nil {
		return err
	}
	v := progressView{ID: a.ID, Name: a.Name, Status: a.Status, Kind: a.Kind, Terminal: assessment.Status(a.Status).Terminal(),
		Then: thenURL(a), EventsURL: "/assessments/" + a.ID + "/events", Reason: a.Reason, Created: a.CreatedAt}
	for _, f := range assessment.Families() {
		st := a.Families[string(f)]
		status := st.Status
		if status == "" {
			status = store.FamilyPending
		}
		v.Families = append(v.Families, familyView{Name: string(f), Status: status, Summary: st.Summary})
	}
	return c.render(ec, http.StatusOK, "progress", a.Name, v)
}

// events serves the assessment's event stream through the API's handler
// (same replay, caps and shutdown), after the page's own checks.
func (c *Console) events(ec echo.Context) error {
	if _, err := pathID(ec, "id"); err != nil {
		return err
	}
	return c.d.Events(ec)
}

// download serves the report as a file through the report use case, in the
// API's formats and with its file names.
func (c *Console) download(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	formats := map[string]struct {
		f         app.Format
		mediaType string
		ext       string
	}{
		"pdf":      {app.FormatPDF, "application/pdf", "pdf"},
		"markdown": {app.FormatMarkdown, "text/markdown; charset=utf-8", "md"},
		"json":     {app.FormatJSON, "application/json; charset=utf-8", "json"},
	}
	f, ok := formats[ec.Param("format")]
	if !ok {
		return &pageError{status: http.StatusNotFound, title: "Not found", detail: "format: must be pdf, markdown or json"}
	}
	out, err := c.d.Reports.Report(ec.Request().Context(), caller(ec).Tenant, id, f.f)
	if err != nil {
		return err
	}
	ec.Response().Header().Set(echo.HeaderContentDisposition,
		mime.FormatMediaType("attachment", map[string]string{"filename": "infra-mind-" + id + "." + f.ext}))
	return ec.Blob(http.StatusOK, f.mediaType, out.Body)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
