package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/scenario"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// maxVersionAttempts bounds how many version numbers one re-run tries when
// concurrent re-runs take the ones it picked.
const maxVersionAttempts = 8

// Submission is a new assessment: who asks, the validated request and,
// optionally, the idempotency key that makes retrying it safe.
type Submission struct {
	Caller
	IdempotencyKey string
	Request        *inframindv1.AssessmentRequest
}

// IdempotentID derives the assessment id of an idempotency key: a name-based
// UUIDv5 (RFC 9562 section 5.5) of tenant and key, so a retry lands on the
// same assessment and two tenants' keys never collide. Tenant ids cannot
// contain '/', which keeps the name unambiguous.
func IdempotentID(tenant, key string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://infra-mind.dev/idempotency-key/"+tenant+"/"+key)).String()
}

// Submit stores a new queued assessment and queues it. With an idempotency
// key, a retry of the same request returns the assessment the first call
// created, queueing it again only while it is still queued (the queue
// deduplicates); the key with a different request is ErrIdempotencyKeyReused.
// A queue failure is a *NotQueuedError: the assessment is stored.
func (s *Service) Submit(ctx context.Context, sub Submission) (store.Assessment, error) {
	req := sub.Request
	reqJSON, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(req)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("encode request: %w", err)
	}
	var id string
	if sub.IdempotencyKey != "" {
		id = IdempotentID(sub.Tenant, sub.IdempotencyKey)
	} else {
		u, err := uuid.NewV7()
		if err != nil {
			return store.Assessment{}, fmt.Errorf("new assessment id: %w", err)
		}
		id = u.String()
	}
	sctx, span := step(ctx, "admission")
	release, err := s.admit.Admit(sctx)
	endStep(span, err)
	if err != nil {
		return store.Assessment{}, err
	}
	defer release()
	a := s.newAssessment(sub.Caller, id, req, string(reqJSON))
	// A retry whose first call stored the assessment schedules a later
	// deadline, which replaces the first: the work starts again now.
	sctx, span = step(ctx, "schedule deadline")
	err = s.schedule(sctx, a, "Retry the request; nothing was stored.")
	endStep(span, err)
	if err != nil {
		return store.Assessment{}, err
	}
	sctx, span = step(ctx, "store assessment")
	err = s.repo.Create(sctx, a)
	endStep(span, err)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrConflict) && sub.IdempotencyKey != "":
		existing, gerr := s.repo.Get(ctx, sub.Tenant, id)
		if gerr != nil {
			return store.Assessment{}, fmt.Errorf("load assessment %s for idempotent retry: %w", id, gerr)
		}
		stored := &inframindv1.AssessmentRequest{}
		if uerr := protojson.Unmarshal([]byte(existing.Request), stored); uerr != nil || !proto.Equal(stored, req) {
			return store.Assessment{}, ErrIdempotencyKeyReused
		}
		a, req = existing, stored
		if assessment.Status(a.Status) != assessment.StatusQueued {
			// Already picked up: the first publish reached the workers.
			return a, nil
		}
	default:
		return store.Assessment{}, fmt.Errorf("create assessment %s: %w", id, err)
	}
	sctx, span = step(ctx, "enqueue")
	err = s.enqueue(sctx, a, req, "Retry with the same Idempotency-Key header to avoid a duplicate.")
	endStep(span, err)
	if err != nil {
		return store.Assessment{}, err
	}
	return a, nil
}

// newAssessment builds the queued document of a new assessment running req
// (reqJSON is its protojson), with every family pending and the deadline set.
// Submissions, versions and scenarios all start here.
func (s *Service) newAssessment(c Caller, id string, req *inframindv1.AssessmentRequest, reqJSON string) store.Assessment {
	now := s.now().UTC().Truncate(time.Millisecond)
	families := make(map[string]store.FamilyState, len(assessment.Families()))
	for _, f := range assessment.Families() {
		families[string(f)] = store.FamilyState{Status: "pending"}
	}
	a := store.Assessment{
		ID:            id,
		TenantID:      c.Tenant,
		Name:          req.GetName(),
		Status:        string(assessment.StatusQueued),
		Request:       reqJSON,
		Families:      families,
		CorrelationID: c.CorrelationID,
		CreatedAt:     now,
		UpdatedAt:     now,
		Deadline:      now.Add(s.timeout),
	}
	if a.CorrelationID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		a.CorrelationID = hex.EncodeToString(b[:])
	}
	return a
}

// schedule sets the deadline of an assessment about to be stored: if it is
// stored and never queued (the publish of the request fails, or the process
// stops in between), the pipeline closes it at its deadline as failed
// instead of leaving it queued for ever (ADR 0029). A failure stores nothing.
func (s *Service) schedule(ctx context.Context, a store.Assessment, retry string) error {
	if err := s.queue.ScheduleDeadline(ctx, a); err != nil {
		return &NotQueuedError{ID: a.ID, Retry: retry, Err: err}
	}
	return nil
}

// enqueue hands a stored assessment to the pipeline; retry says how to retry
// the use case without a duplicate when the queue refuses.
func (s *Service) enqueue(ctx context.Context, a store.Assessment, req *inframindv1.AssessmentRequest, retry string) error {
	if err := s.queue.Enqueue(ctx, a, req); err != nil {
		return &NotQueuedError{ID: a.ID, Retry: retry, Err: err}
	}
	return nil
}

// Get returns one of the tenant's assessments.
func (s *Service) Get(ctx context.Context, tenant, id string) (store.Assessment, error) {
	a, err := s.repo.Get(ctx, tenant, id)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("get assessment %s: %w", id, err)
	}
	return a, nil
}

// List returns a page of the tenant's assessments, newest first.
func (s *Service) List(ctx context.Context, tenant string, opt store.ListOptions) (store.Page, error) {
	page, err := s.repo.List(ctx, tenant, opt)
	if err != nil {
		return store.Page{}, fmt.Errorf("list assessments: %w", err)
	}
	return page, nil
}

// Base returns the tenant's assessment id and requires it to be a base:
// versions and scenarios hang off the base (version 1), never off a child
// (*NotBaseError).
func (s *Service) Base(ctx context.Context, tenant, id string) (store.Assessment, error) {
	a, err := s.repo.Get(ctx, tenant, id)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("get assessment %s: %w", id, err)
	}
	if a.Kind != store.KindBase {
		return store.Assessment{}, &NotBaseError{ID: a.ID, Kind: a.Kind, ParentID: a.ParentID}
	}
	return a, nil
}

// storedRequest decodes the request an assessment ran.
func storedRequest(a store.Assessment) (*inframindv1.AssessmentRequest, error) {
	req := &inframindv1.AssessmentRequest{}
	if err := protojson.Unmarshal([]byte(a.Request), req); err != nil {
		return nil, fmt.Errorf("decode the stored request of %s: %w", a.ID, err)
	}
	return req, nil
}

// CreateVersion runs the base's stored request again (against the catalogue
// the workers load now) as the next version: a child assessment with its own
// id, events and report, queued like a submission.
func (s *Service) CreateVersion(ctx context.Context, c Caller, id string) (store.Assessment, error) {
	base, err := s.Base(ctx, c.Tenant, id)
	if err != nil {
		return store.Assessment{}, err
	}
	req, err := storedRequest(base)
	if err != nil {
		return store.Assessment{}, err
	}
	versions, err := s.repo.Children(ctx, base.TenantID, base.ID, store.KindVersion)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("list versions of %s: %w", base.ID, err)
	}
	release, err := s.admit.Admit(ctx)
	if err != nil {
		return store.Assessment{}, err
	}
	defer release()
	next := 2 // version 1 is the base itself
	for _, v := range versions {
		next = max(next, v.Version+1)
	}
	// Insert first on the deterministic id of the version number: of two
	// concurrent re-runs picking the same number, one gets the primary key
	// and the other moves on to the next number.
	var child store.Assessment
	for attempt := 0; ; attempt++ {
		if attempt == maxVersionAttempts {
			return store.Assessment{}, ErrTooManyVersions
		}
		child = s.newAssessment(c, store.VersionID(base.ID, next), req, base.Request)
		child.ParentID, child.Kind, child.Version = base.ID, store.KindVersion, next
		if err := s.schedule(ctx, child, "Retry the request; nothing was stored."); err != nil {
			return store.Assessment{}, err
		}
		err = s.repo.Create(ctx, child)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) {
			return store.Assessment{}, fmt.Errorf("create version %d of %s: %w", next, base.ID, err)
		}
		next++
	}
	if err := s.enqueue(ctx, child, req, "Retry the request; it creates the next version."); err != nil {
		return store.Assessment{}, err
	}
	return child, nil
}

// Versions returns the base and its re-runs by version number.
func (s *Service) Versions(ctx context.Context, tenant, id string) (store.Assessment, []store.Assessment, error) {
	base, children, err := s.children(ctx, tenant, id, store.KindVersion)
	if err != nil {
		return store.Assessment{}, nil, err
	}
	slices.SortFunc(children, func(a, b store.Assessment) int { return a.Version - b.Version })
	return base, children, nil
}

// VersionPair loads versions from and to of the tenant's base assessment id
// (1 is the base itself), for comparing them.
func (s *Service) VersionPair(ctx context.Context, tenant, id string, from, to int) (store.Assessment, store.Assessment, error) {
	base, err := s.Base(ctx, tenant, id)
	if err != nil {
		return store.Assessment{}, store.Assessment{}, err
	}
	a, err := s.version(ctx, base, from, "from")
	if err != nil {
		return store.Assessment{}, store.Assessment{}, err
	}
	b, err := s.version(ctx, base, to, "to")
	if err != nil {
		return store.Assessment{}, store.Assessment{}, err
	}
	return a, b, nil
}

// version loads version n of base (1 is the base itself).
func (s *Service) version(ctx context.Context, base store.Assessment, n int, param string) (store.Assessment, error) {
	if n == 1 {
		return base, nil
	}
	v, err := s.repo.Get(ctx, base.TenantID, store.VersionID(base.ID, n))
	if errors.Is(err, store.ErrNotFound) {
		return store.Assessment{}, &NoVersionError{Version: n, Param: param}
	}
	if err != nil {
		return store.Assessment{}, fmt.Errorf("get version %d of %s: %w", n, base.ID, err)
	}
	return v, nil
}

// Scenario is a what-if of a base assessment: its name (empty: the base's
// name with " (what-if)") and the overrides applied to the base's request.
type Scenario struct {
	Name      string
	Overrides scenario.Overrides
}

// CreateScenario runs base's request with the overrides applied through the
// pipeline as a child assessment. base comes from Base; a request the
// overrides make invalid is an *assessment.ValidationError naming the field.
func (s *Service) CreateScenario(ctx context.Context, c Caller, base store.Assessment, sc Scenario) (store.Assessment, error) {
	if base.Kind != store.KindBase || base.TenantID != c.Tenant {
		return store.Assessment{}, &NotBaseError{ID: base.ID, Kind: base.Kind, ParentID: base.ParentID}
	}
	req, err := storedRequest(base)
	if err != nil {
		return store.Assessment{}, err
	}
	scReq, _, err := scenario.Apply(req, sc.Overrides)
	if err != nil {
		return store.Assessment{}, err
	}
	reqJSON, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(scReq)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("encode scenario request: %w", err)
	}
	overrides, err := jsonOf(sc.Overrides)
	if err != nil {
		return store.Assessment{}, fmt.Errorf("encode overrides: %w", err)
	}
	release, err := s.admit.Admit(ctx)
	if err != nil {
		return store.Assessment{}, err
	}
	defer release()
	u, err := uuid.NewV7()
	if err != nil {
		return store.Assessment{}, fmt.Errorf("new scenario id: %w", err)
	}
	child := s.newAssessment(c, u.String(), scReq, string(reqJSON))
	child.ParentID, child.Kind, child.Overrides = base.ID, store.KindScenario, overrides
	if sc.Name != "" {
		child.Name = sc.Name
	} else {
		child.Name = base.Name + " (what-if)"
	}
	if err := s.schedule(ctx, child, "Retry the request; nothing was stored."); err != nil {
		return store.Assessment{}, err
	}
	if err := s.repo.Create(ctx, child); err != nil {
		return store.Assessment{}, fmt.Errorf("create scenario of %s: %w", base.ID, err)
	}
	if err := s.enqueue(ctx, child, scReq, "Retry the request; it creates a new scenario."); err != nil {
		return store.Assessment{}, err
	}
	return child, nil
}

// Scenarios returns the scenarios of the tenant's base assessment id, oldest
// first.
func (s *Service) Scenarios(ctx context.Context, tenant, id string) ([]store.Assessment, error) {
	_, children, err := s.children(ctx, tenant, id, store.KindScenario)
	return children, err
}

// Scenario returns the tenant's base assessment id and its scenario sid
// (ErrNoScenario when sid is not a scenario of that base).
func (s *Service) Scenario(ctx context.Context, tenant, id, sid string) (store.Assessment, store.Assessment, error) {
	base, err := s.Base(ctx, tenant, id)
	if err != nil {
		return store.Assessment{}, store.Assessment{}, err
	}
	sc, err := s.repo.Get(ctx, base.TenantID, sid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (sc.Kind != store.KindScenario || sc.ParentID != base.ID)) {
		return store.Assessment{}, store.Assessment{}, ErrNoScenario
	}
	if err != nil {
		return store.Assessment{}, store.Assessment{}, fmt.Errorf("get scenario %s: %w", sid, err)
	}
	return base, sc, nil
}

// children loads the tenant's base assessment id and its children of kind.
func (s *Service) children(ctx context.Context, tenant, id, kind string) (store.Assessment, []store.Assessment, error) {
	base, err := s.Base(ctx, tenant, id)
	if err != nil {
		return store.Assessment{}, nil, err
	}
	children, err := s.repo.Children(ctx, base.TenantID, base.ID, kind)
	if err != nil {
		return store.Assessment{}, nil, fmt.Errorf("list %s children of %s: %w", kind, base.ID, err)
	}
	return base, children, nil
}

// jsonOf encodes the overrides as stored with a scenario.
func jsonOf(o scenario.Overrides) (string, error) {
	b, err := json.Marshal(o)
	return string(b), err
}
