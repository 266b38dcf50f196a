package console

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// Eraser erases an assessment with everything derived from it (the right to
// erasure, docs/adr/0032): the use case DELETE /v1/assessments/{id} calls,
// with what the gateway does around it.
type Eraser interface {
	Erase(ctx context.Context, tenant, id string) error
}

// deleteView is the page that asks before an assessment is deleted.
type deleteView struct {
	ID, Name, Status, Kind string
	// Back is the page the visitor came from (the report, or the progress
	// page of an assessment without one).
	Back string
}

// deletePage asks before deleting: it names the assessment and what goes
// with it, and posts the confirmation. It needs no script.
func (c *Console) deletePage(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	a, err := c.d.Assessments.Get(ec.Request().Context(), caller(ec).Tenant, id)
	if err != nil {
		return err
	}
	return c.render(ec, http.StatusOK, "delete", "Delete "+a.Name, deleteView{ID: a.ID, Name: a.Name, Status: a.Status,
		Kind: a.Kind, Back: thenURL(a)})
}

// deleteAssessment erases the assessment once the visitor confirmed, and
// goes to the list, which says it is gone. A running assessment is refused
// with the API's 409 (erase it after it ends).
func (c *Console) deleteAssessment(ec echo.Context) error {
	id, err := pathID(ec, "id")
	if err != nil {
		return err
	}
	if err := c.d.Eraser.Erase(ec.Request().Context(), caller(ec).Tenant, id); err != nil {
		return err
	}
	return ec.Redirect(http.StatusSeeOther, "/assessments?deleted="+url.QueryEscape(id))
}
