// Package app holds the use cases the HTTP API offers: submit an assessment
// (idempotently stored, then queued to the pipeline), read and list them,
// re-run one as a new version and run a what-if scenario of it (Service);
// read a finished assessment's report in a format, its recommendations and
// the comparison of two reports (Reports); register and inspect webhooks
// (Webhooks); read the audit log (Audit); and follow an assessment's
// progress events from where a client left off (Progress). It talks to storage, the cache
// and the broker only through the small ports each declares, so its tests run
// on in-process fakes (pkg/app/apptest) and one contract suite per port
// (pkg/app/adapters) keeps those fakes true to the real adapters.
package app

import (
	"context"
	"errors"
	"time"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Assessments stores assessment documents; *store.Assessments is the real
// one. Every call is scoped to a tenant: another tenant's id reads like a
// missing one (store.ErrNotFound); Create refuses an id that exists
// (store.ErrConflict).
type Assessments interface {
	Create(ctx context.Context, a store.Assessment) error
	Get(ctx context.Context, tenant, id string) (store.Assessment, error)
	List(ctx context.Context, tenant string, opt store.ListOptions) (store.Page, error)
	Children(ctx context.Context, tenant, parentID, kind string) ([]store.Assessment, error)
}

// Queue hands assessments to the pipeline. ScheduleDeadline arranges for
// the pipeline to close a at a.Deadline unless it has finished by then; the
// use cases call it before storing a, so no stored assessment lacks a
// deadline, whatever fails after the insert (a refused publish, a process
// stopped before queueing): accepted work finishes or fails visibly.
// Enqueue hands a stored, queued assessment to the pipeline: the "queued"
// status, then the RequestAssessment command, each under a deterministic id
// so queueing the same assessment twice runs it once.
type Queue interface {
	ScheduleDeadline(ctx context.Context, a store.Assessment) error
	Enqueue(ctx context.Context, a store.Assessment, req *inframindv1.AssessmentRequest) error
}

// Admission decides whether the pipeline can take one more assessment now:
// Admit returns a release to call once the assessment is queued (or was
// not created), or a *BusyError when the assessments already in flight are
// as many as the pipeline can finish in time. Refusing before the
// assessment is stored means no accepted work is ever turned away.
type Admission interface {
	Admit(ctx context.Context) (release func(), err error)
}

// admitAll is the Admission of a Service given none.
type admitAll struct{}

func (admitAll) Admit(context.Context) (func(), error) { return func() {}, nil }

// DefaultTimeout is the deadline given to a new assessment when Options
// leaves it zero.
const DefaultTimeout = 2 * time.Minute

// Options tunes the use cases. Zero values take the defaults.
type Options struct {
	// Timeout is the deadline given to each new assessment.
	Timeout time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// Admission bounds the assessments in flight (nil admits all).
	Admission Admission
}

// Service runs the assessment use cases.
type Service struct {
	repo    Assessments
	queue   Queue
	timeout time.Duration
	now     func() time.Time
	admit   Admission
}

// New returns the use cases over a repository and a queue.
func New(repo Assessments, queue Queue, opt Options) (*Service, error) {
	switch {
	case repo == nil:
		return nil, errors.New("app: an assessment repository is required")
	case queue == nil:
		return nil, errors.New("app: a queue is required")
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Admission == nil {
		opt.Admission = admitAll{}
	}
	return &Service{repo: repo, queue: queue, timeout: opt.Timeout, now: opt.Now, admit: opt.Admission}, nil
}

// Caller is who runs a use case: the tenant every read and write is scoped
// to, and the correlation id new assessments and their events carry.
type Caller struct {
	Tenant        string
	CorrelationID string
}
