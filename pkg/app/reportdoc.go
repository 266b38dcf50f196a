package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// Document returns the stored report of one of tenant's finished
// assessments as its model, with the consultant's narratives attached, for a
// renderer outside this package (the console's report page). It reads what
// Report reads: a report not written yet is a *NotReadyError, one stored
// before reports carried their model a *NotRenderableError.
func (r *Reports) Document(ctx context.Context, tenant, id string) (report.Document, error) {
	body, _, err := r.stored(ctx, tenant, id)
	if err != nil {
		return report.Document{}, err
	}
	narratives, err := r.readNarratives(ctx, tenant, id)
	if err != nil {
		return report.Document{}, err
	}
	doc, err := report.Decode(body)
	if errors.Is(err, report.ErrNoModel) {
		return report.Document{}, &NotRenderableError{ID: id, Format: FormatHTML, Err: err}
	}
	if err != nil {
		return report.Document{}, fmt.Errorf("report of %s: %w", id, err)
	}
	doc.Narratives = narratives
	return doc, nil
}
