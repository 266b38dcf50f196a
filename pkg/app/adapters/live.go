package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Progress is what LiveAssessments reads of an assessment in flight;
// *progress.State is the real one.
type Progress interface {
	Finished(ctx context.Context, tenant, assessmentID string) (progress.Finish, bool, error)
	Marks(ctx context.Context, tenant, assessmentID string) (progress.Marks, bool, error)
}

// LiveAssessments is an app.Assessments that shows each assessment as it
// stands: the stored document, which the pipeline writes once, when it
// closes, with the pipeline state laid over it while it runs (the families
// that answered, the status that follows from them, a deadline that moved,
// and a close claimed but not yet written). A closed document is returned as
// stored and costs no extra read; an open one two key lookups (ADR 0029).
type LiveAssessments struct {
	repo  app.Assessments
	state Progress
}

// NewLiveAssessments lays state over repo.
func NewLiveAssessments(repo app.Assessments, state Progress) (*LiveAssessments, error) {
	if repo == nil || state == nil {
		return nil, errors.New("adapters: an assessment repository and the pipeline state are required")
	}
	return &LiveAssessments{repo: repo, state: state}, nil
}

// Create stores a new assessment.
func (l *LiveAssessments) Create(ctx context.Context, a store.Assessment) error {
	return l.repo.Create(ctx, a)
}

// Get returns one assessment of tenant as it stands.
func (l *LiveAssessments) Get(ctx context.Context, tenant, id string) (store.Assessment, error) {
	a, err := l.repo.Get(ctx, tenant, id)
	if err != nil {
		return store.Assessment{}, err
	}
	return l.live(ctx, a)
}

// List returns a page of tenant's assessments as they stand.
func (l *LiveAssessments) List(ctx context.Context, tenant string, opt store.ListOptions) (store.Page, error) {
	page, err := l.repo.List(ctx, tenant, opt)
	if err != nil {
		return store.Page{}, err
	}
	for i, a := range page.Items {
		if page.Items[i], err = l.live(ctx, a); err != nil {
			return store.Page{}, err
		}
	}
	return page, nil
}

// Children returns the child assessments of kind of parentID as they stand.
func (l *LiveAssessments) Children(ctx context.Context, tenant, parentID, kind string) ([]store.Assessment, error) {
	out, err := l.repo.Children(ctx, tenant, parentID, kind)
	if err != nil {
		return nil, err
	}
	for i, a := range out {
		if out[i], err = l.live(ctx, a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// live lays the pipeline state over a stored assessment that is not closed.
func (l *LiveAssessments) live(ctx context.Context, a store.Assessment) (store.Assessment, error) {
	if assessment.Status(a.Status).Terminal() {
		return a, nil
	}
	fin, closed, err := l.state.Finished(ctx, a.TenantID, a.ID)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("read the finish of assessment %s: %w", a.ID, err)
	}
	if closed {
		// Claimed, and being written: show what will be stored.
		a.Status, a.MissingFamilies, a.Reason = fin.Status, fin.MissingFamilies, fin.Reason
		a.CompletedAt, a.UpdatedAt = fin.At, fin.At
		a.Families = families(a.Families, fin.Families)
		return a, nil
	}
	m, found, err := l.state.Marks(ctx, a.TenantID, a.ID)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("read the progress of assessment %s: %w", a.ID, err)
	}
	if !found {
		return a, nil
	}
	a.Families = families(a.Families, m.Families)
	if len(m.Families) > 0 {
		a.Status = string(assessment.StatusRunning)
	}
	if m.UpdatedAt.After(a.UpdatedAt) {
		a.UpdatedAt = m.UpdatedAt
	}
	if m.Deadline.After(a.Deadline) {
		a.Deadline = m.Deadline
	}
	return a, nil
}

// families is stored with every marked family shown completed; a copy, so
// the repository's own map is never written.
func families(stored map[string]store.FamilyState, marks map[string]progress.Mark) map[string]store.FamilyState {
	out := make(map[string]store.FamilyState, len(assessment.Families()))
	for f, s := range stored {
		out[f] = s
	}
	for _, f := range assessment.Families() {
		if m, ok := marks[string(f)]; ok {
			out[string(f)] = store.FamilyState{Status: store.FamilyCompleted, CompletedAt: m.CompletedAt, Summary: m.Summary}
		} else if _, ok := out[string(f)]; !ok {
			out[string(f)] = store.FamilyState{Status: store.FamilyPending}
		}
	}
	return out
}
