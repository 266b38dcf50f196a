package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// FamilyState is one family's progress inside an assessment document.
type FamilyState struct {
	Status      string    `bson:"status" json:"status"` // pending, completed
	CompletedAt time.Time `bson:"completed_at,omitempty" json:"completed_at,omitempty"`
	Summary     string    `bson:"summary,omitempty" json:"summary,omitempty"`
}

// Family progress values stored in FamilyState.Status.
const (
	FamilyPending   = "pending"
	FamilyCompleted = "completed"
)

// Assessment is the stored assessment. Request holds the protojson of the
// AssessmentRequest as submitted (validated).
type Assessment struct {
	// Key is the primary key, AssessmentKey(TenantID, ID); the repository sets it.
	Key             string                 `bson:"_id" json:"-"`
	ID              string                 `bson:"assessment_id" json:"id"`
	TenantID        string                 `bson:"tenant_id" json:"tenant_id"`
	Name            string                 `bson:"name" json:"name"`
	Status          string                 `bson:"status" json:"status"`
	Request         string                 `bson:"request" json:"-"`
	Families        map[string]FamilyState `bson:"families" json:"families"`
	MissingFamilies []string               `bson:"missing_families,omitempty" json:"missing_families,omitempty"`
	Reason          string                 `bson:"reason,omitempty" json:"reason,omitempty"`
	CorrelationID   string                 `bson:"correlation_id" json:"correlation_id"`
	CreatedAt       time.Time              `bson:"created_at" json:"created_at"`
	UpdatedAt       time.Time              `bson:"updated_at" json:"updated_at"`
	// Deadline after which a still-running assessment is closed as partial/failed.
	Deadline    time.Time `bson:"deadline" json:"deadline"`
	CompletedAt time.Time `bson:"completed_at,omitempty" json:"completed_at,omitempty"`
	// ParentID is the base assessment of a version or a scenario; empty on a base.
	ParentID string `bson:"parent_id,omitempty" json:"parent_id,omitempty"`
	// Kind is KindBase (""), KindVersion or KindScenario.
	Kind string `bson:"kind,omitempty" json:"kind,omitempty"`
	// Version is a version's number (2, 3, ...; the base is version 1).
	Version int `bson:"version,omitempty" json:"version,omitempty"`
	// Overrides is the JSON of a scenario's applied what-if overrides.
	Overrides string `bson:"overrides,omitempty" json:"overrides,omitempty"`
}

// Assessment kinds stored in Assessment.Kind. A version or a scenario is a
// child assessment of its base (ParentID) that runs through the same pipeline.
const (
	KindBase     = ""
	KindVersion  = "version"
	KindScenario = "scenario"
)

// Assessments repository.
//
// On MongoDB every update below is a single atomic findOneAndUpdate. FerretDB
// v1 runs findAndModify and update as "read the matching document, then write
// it back by _id" (internal/handler/msg_findandmodify.go in v1.24.2), so a
// filter on the current status is not a compare-and-swap there. Two things
// keep the guarantees on both servers:
//   - Finish claims the terminal transition by inserting a document with a
//     deterministic _id into CollFinishes; only an insert against the primary
//     key is atomic on FerretDB, so exactly one caller wins in any process.
//   - writes to one assessment are serialized inside a process (locks), so
//     concurrent family completions handled by one synthesizer never lose
//     each other. Across processes on FerretDB a family mark may still be
//     overwritten by a concurrent one; the stored results (Results, one
//     document per family) are the lossless record of which families answered.
type Assessments struct {
	coll          *mongo.Collection
	finishes      *mongo.Collection
	announcements *mongo.Collection
	locks         stripes
	// views is the read model (nil: none); see Store.UseReadModel.
	views *views
}

// stripes serializes writes to one assessment within a process without a
// map that grows with the number of assessments.
type stripes [64]sync.Mutex

// lock locks the stripe of id and returns its unlock.
func (s *stripes) lock(id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	m := &s[h.Sum32()%uint32(len(s))]
	m.Lock()
	return m.Unlock
}

// finishClaim records who finished an assessment and how; its _id is
// FinishID(tenant, assessment), so a second claim is a duplicate key.
type finishClaim struct {
	ID              string    `bson:"_id"`
	TenantID        string    `bson:"tenant_id"`
	AssessmentID    string    `bson:"assessment_id"`
	Status          string    `bson:"status"`
	MissingFamilies []string  `bson:"missing_families,omitempty"`
	Reason          string    `bson:"reason,omitempty"`
	At              time.Time `bson:"at"`
	// Families is each family's state at the close (Close; nil: unchanged).
	Families map[string]FamilyState `bson:"families,omitempty"`
}

// FinishID is the _id of an assessment's finish claim in CollFinishes.
func FinishID(tenant, assessmentID string) string {
	return assessment.DeterministicID(tenant, assessmentID, "finish")
}

// Page size bounds for List.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// DefaultOverdueLimit is used by Overdue when limit is not positive.
const DefaultOverdueLimit = 100

// nonTerminal lists the statuses an assessment can still leave; filters use
// $in on it (rather than $nin on the terminal ones) so a document with an
// unexpected status is never touched.
func nonTerminal() bson.A {
	return bson.A{string(assessment.StatusQueued), string(assessment.StatusRunning)}
}

// Create inserts a new assessment; ErrConflict if the id exists. Empty
// Status becomes queued, zero CreatedAt/UpdatedAt become now, and a nil
// Families map is stored as an empty one so families can be set by path.
func (r *Assessments) Create(ctx context.Context, a Assessment) error {
	if err := required("create assessment", "tenant", a.TenantID, "assessment id", a.ID); err != nil {
		return err
	}
	if a.Status == "" {
		a.Status = string(assessment.StatusQueued)
	}
	a.CreatedAt = orNow(a.CreatedAt)
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	if a.Families == nil {
		a.Families = map[string]FamilyState{}
	}
	a.Key = AssessmentKey(a.TenantID, a.ID)
	if _, err := r.coll.InsertOne(ctx, a); err != nil {
		err = wrap("create assessment "+a.ID, err)
		if errors.Is(err, ErrConflict) && r.views != nil {
			// A retry: the first call may have stopped before its copy.
			r.views.repair(ctx, "assessment", a.ID,
				func() (bool, error) {
					_, found, err := r.views.rm.GetAssessment(ctx, a.TenantID, a.ID)
					return found, err
				},
				func() error {
					var cur Assessment
					if err := findByKey(ctx, r.coll, a.TenantID, a.Key, &cur, func() string { return cur.TenantID }); err != nil {
						return err
					}
					return r.views.rm.PutAssessment(ctx, cur)
				})
		}
		return err
	}
	return r.views.putAssessment(ctx, a)
}

// Get returns one assessment of tenant; ErrNotFound for another tenant's id.
func (r *Assessments) Get(ctx context.Context, tenant, id string) (Assessment, error) {
	if err := required("get assessment", "tenant", tenant, "assessment id", id); err != nil {
		return Assessment{}, err
	}
	if r.views != nil {
		a, found, err := r.views.rm.GetAssessment(ctx, tenant, id)
		switch {
		case err != nil:
			r.views.log.WarnContext(ctx, "read model read failed; reading the document store",
				"assessment_id", id, "error", err.Error())
		case found && a.TenantID == tenant:
			return a, nil
		case r.views.authoritative(ctx):
			return Assessment{}, wrap("get assessment "+id, ErrNotFound)
		}
	}
	var a Assessment
	if err := findByKey(ctx, r.coll, tenant, AssessmentKey(tenant, id), &a, func() string { return a.TenantID }); err != nil {
		return Assessment{}, wrap("get assessment "+id, err)
	}
	a, err := r.withClose(ctx, a)
	if err != nil {
		return Assessment{}, err
	}
	if r.views != nil {
		// Stored before the read model, or its copy was lost in a crash.
		r.views.backfill(ctx, "assessment", id, func() error { return r.views.rm.PutAssessment(ctx, a) })
	}
	return a, nil
}

// AssessmentKey is the primary key of a tenant's assessment. The tenant is
// part of the key, so a lookup by key is tenant-scoped by construction and
// another tenant's id reads exactly like a missing one.
func AssessmentKey(tenant, id string) string { return tenant + "/" + id }

// ListOptions pages a tenant's assessments newest first.
type ListOptions struct {
	Limit  int    // 1..100; 0 or less means DefaultListLimit, more than 100 means 100
	Cursor string // opaque, from the previous page's NextCursor
}

// Page is one page of assessments.
type Page struct {
	Items      []Assessment
	NextCursor string // empty on the last page
}

// List returns a page of tenant's assessments, newest first by (created_at,
// id). Pages are keyset-based: an assessment created while paging never
// shifts the following pages. A cursor List did not produce gives ErrBadCursor.
func (r *Assessments) List(ctx context.Context, tenant string, opt ListOptions) (Page, error) {
	if err := required("list assessments", "tenant", tenant); err != nil {
		return Page{}, err
	}
	limit := opt.Limit
	switch {
	case limit <= 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	var before *ListPosition
	if opt.Cursor != "" {
		at, id, err := decodeCursor(opt.Cursor)
		if err != nil {
			return Page{}, fmt.Errorf("store: list assessments: %w", err)
		}
		before = &ListPosition{At: at, ID: id}
	}
	var items []Assessment
	if r.views != nil {
		// The read model keeps each tenant's list in key order: a page
		// costs the same however many assessments are stored.
		pos, err := r.views.rm.ListAssessments(ctx, tenant, before, limit+1)
		if err != nil {
			return Page{}, wrap("list assessments", err)
		}
		if items, err = r.getAll(ctx, tenant, pos); err != nil {
			return Page{}, err
		}
	} else {
		var err error
		if items, err = r.findPage(ctx, tenant, before, limit); err != nil {
			return Page{}, err
		}
	}
	page := Page{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	if page.Items == nil {
		page.Items = []Assessment{}
	}
	return page, nil
}

// getAll reads the tenant's assessments at pos, in that order, a few at a
// time; each is a read by key.
func (r *Assessments) getAll(ctx context.Context, tenant string, pos []ListPosition) ([]Assessment, error) {
	out := make([]Assessment, len(pos))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, p := range pos {
		g.Go(func() error {
			a, err := r.Get(gctx, tenant, p.ID)
			if errors.Is(err, ErrNotFound) {
				return nil // erased since it was listed
			}
			if err != nil {
				return err
			}
			out[i] = a
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(a Assessment) bool { return a.ID == "" }), nil
}

// findPage reads a page (and one more) of the tenant's list from the
// document store.
func (r *Assessments) findPage(ctx context.Context, tenant string, before *ListPosition, limit int) ([]Assessment, error) {
	filter := bson.D{{Key: "tenant_id", Value: tenant}}
	if before != nil {
		at, id := before.At, before.ID
		// Strictly after (at, id) in (created_at desc, _id desc) order.
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "created_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: AssessmentKey(tenant, id)}}}},
		}})
	}
	// One extra document tells whether a next page exists without a count.
	fo := options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit + 1))
	cur, err := r.coll.Find(ctx, filter, fo)
	if err != nil {
		return nil, wrap("list assessments", err)
	}
	var items []Assessment
	if err := cur.All(ctx, &items); err != nil {
		return nil, wrap("list assessments", err)
	}
	return r.withCloses(ctx, items)
}

// encodeCursor packs the sort key of the last item of a page. It is opaque to
// callers; its layout ("<unix millis>:<id>", base64url) may change.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMilli(), 10) + ":" + id))
}

// decodeCursor reverses encodeCursor; anything else is ErrBadCursor.
func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ms, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return time.Time{}, "", ErrBadCursor
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	return time.UnixMilli(n).UTC(), id, nil
}

// MarkFamilyCompleted records that family finished (idempotent: a second call
// changes nothing) and moves a queued assessment to running. It returns the
// assessment after the update. A terminal assessment is returned unchanged.
// family must be one of assessment.Families (it becomes a field path).
func (r *Assessments) MarkFamilyCompleted(ctx context.Context, tenant, id, family, summary string, at time.Time) (Assessment, error) {
	if err := required("mark family completed", "tenant", tenant, "assessment id", id, "family", family); err != nil {
		return Assessment{}, err
	}
	if _, ok := assessment.ParseFamily(family); !ok {
		return Assessment{}, fmt.Errorf("store: mark family completed: %w: unknown family %q", ErrInvalid, family)
	}
	at = orNow(at)
	defer r.locks.lock(id)()

	a, err := r.Get(ctx, tenant, id)
	if err != nil {
		return Assessment{}, err
	}
	if assessment.Status(a.Status).Terminal() || a.Families[family].Status == FamilyCompleted {
		// Terminal, or a redelivery: the first completion time and summary stay.
		return a, nil
	}
	state := FamilyState{Status: FamilyCompleted, CompletedAt: at, Summary: summary}
	// The filter is the primary key alone so FerretDB can look it up instead
	// of scanning; the conditions above are checked under the stripe lock.
	_, err = r.coll.UpdateOne(ctx, byKey(a.Key), bson.D{{Key: "$set", Value: bson.D{
		{Key: "families." + family, Value: state},
		{Key: "status", Value: string(assessment.StatusRunning)},
		{Key: "updated_at", Value: at},
	}}})
	if err != nil {
		return Assessment{}, wrap("mark family "+family+" completed on "+id, err)
	}
	if a.Families == nil {
		a.Families = map[string]FamilyState{}
	}
	a.Families[family] = state
	a.Status, a.UpdatedAt = string(assessment.StatusRunning), at
	if err := r.views.putAssessment(ctx, a); err != nil {
		return Assessment{}, err
	}
	// A finish in another process may have happened between the read and
	// the write and been overwritten by it; its claim puts the terminal
	// status back.
	c, found, err := r.claim(ctx, tenant, id)
	if err != nil || !found {
		return a, err
	}
	return r.apply(ctx, c)
}

// Close records an assessment's terminal status, its missing families,
// reason and the families (when not nil) and returns the closed assessment.
// The record is an insert into CollFinishes under FinishID, the one write
// FerretDB v1.24.2 on PostgreSQL serves from the primary key alone: an
// update or findAndModify first reads the table with a sequential scan
// (ADR 0021), whose cost grows with every assessment stored (ADR 0040).
// The assessment document keeps its inserted fields; every read of the
// store lays the record over it (withClose), and the read model holds the
// merged copy. A second close finds the first record and returns it: the
// first close is final, whatever the later arguments say.
func (r *Assessments) Close(ctx context.Context, tenant, id, status string, missing []string, reason string, at time.Time, families map[string]FamilyState) (Assessment, error) {
	if err := required("close assessment", "tenant", tenant, "assessment id", id); err != nil {
		return Assessment{}, err
	}
	if !assessment.Status(status).Terminal() {
		return Assessment{}, fmt.Errorf("store: close assessment: %w: status %q is not terminal", ErrInvalid, status)
	}
	defer r.locks.lock(id)()
	// The assessment first: nothing is written for one that does not exist
	// (erased, or another tenant's id). Where the services run the read
	// model this is a read by key there.
	cur, err := r.Get(ctx, tenant, id)
	if err != nil {
		return Assessment{}, wrap("close assessment "+id, err)
	}
	c := finishClaim{
		ID:              FinishID(tenant, id),
		TenantID:        tenant,
		AssessmentID:    id,
		Status:          status,
		MissingFamilies: missing,
		Reason:          reason,
		At:              orNow(at),
		Families:        families,
	}
	if _, err := r.finishes.InsertOne(ctx, c); mongo.IsDuplicateKeyError(err) {
		won, found, err := r.claim(ctx, tenant, id)
		if err != nil {
			return Assessment{}, err
		}
		if !found {
			return Assessment{}, fmt.Errorf("store: close assessment %s: its record vanished", id)
		}
		c = won
	} else if err != nil {
		return Assessment{}, wrap("close assessment "+id, err)
	}
	a := c.applyTo(cur)
	return a, r.views.putAssessment(ctx, a)
}

// applyTo lays a close record over its assessment. The values come from the
// record only, so applying it any number of times gives one result.
func (c finishClaim) applyTo(a Assessment) Assessment {
	a.Status = c.Status
	a.CompletedAt = c.At
	a.UpdatedAt = c.At
	if len(c.MissingFamilies) > 0 {
		a.MissingFamilies = c.MissingFamilies
	}
	if c.Reason != "" {
		a.Reason = c.Reason
	}
	if c.Families != nil {
		a.Families = c.Families
	}
	return a
}

// withClose lays the assessment's close record, if one was written, over
// the document read from the store (Close).
func (r *Assessments) withClose(ctx context.Context, a Assessment) (Assessment, error) {
	c, found, err := r.claim(ctx, a.TenantID, a.ID)
	if err != nil || !found {
		return a, err
	}
	return c.applyTo(a), nil
}

// withCloses is withClose over a list read from the store.
func (r *Assessments) withCloses(ctx context.Context, as []Assessment) ([]Assessment, error) {
	for i, a := range as {
		var err error
		if as[i], err = r.withClose(ctx, a); err != nil {
			return nil, err
		}
	}
	return as, nil
}

// EachStored calls fn with every assessment of the document store, each
// with its close laid over it, reading the close records once first (a
// backfill of the read model reads this way: one pass over each collection
// instead of a lookup per assessment).
func EachStored(ctx context.Context, db *mongo.Database, fn func(Assessment) error) error {
	closes := map[string]finishClaim{}
	cur, err := db.Collection(CollFinishes).Find(ctx, bson.D{}, options.Find().SetBatchSize(500))
	if err != nil {
		return wrap("read close records", err)
	}
	for cur.Next(ctx) {
		var c finishClaim
		if err := cur.Decode(&c); err != nil {
			_ = cur.Close(ctx)
			return wrap("decode a close record", err)
		}
		closes[c.ID] = c
	}
	if err := cur.Err(); err != nil {
		_ = cur.Close(ctx)
		return wrap("read close records", err)
	}
	_ = cur.Close(ctx)
	cur, err = db.Collection(CollAssessments).Find(ctx, bson.D{}, options.Find().SetBatchSize(500))
	if err != nil {
		return wrap("read assessments", err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var a Assessment
		if err := cur.Decode(&a); err != nil {
			return wrap("decode an assessment", err)
		}
		if c, ok := closes[FinishID(a.TenantID, a.ID)]; ok && c.TenantID == a.TenantID {
			a = c.applyTo(a)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return wrap("read assessments", err)
	}
	return nil
}

// Finish moves a non-terminal assessment to a terminal status atomically. It
// returns (updated, true) when this call made the change and (current, false)
// when the assessment was already terminal, so exactly one outcome wins.
// Who announces it is decided by ClaimAnnouncement. status must be terminal.
func (r *Assessments) Finish(ctx context.Context, tenant, id, status string, missing []string, reason string, at time.Time) (Assessment, bool, error) {
	if err := required("finish assessment", "tenant", tenant, "assessment id", id); err != nil {
		return Assessment{}, false, err
	}
	if !assessment.Status(status).Terminal() {
		return Assessment{}, false, fmt.Errorf("store: finish assessment: %w: status %q is not terminal", ErrInvalid, status)
	}
	defer r.locks.lock(id)()

	cur, err := r.Get(ctx, tenant, id)
	if err != nil {
		return Assessment{}, false, err
	}
	if assessment.Status(cur.Status).Terminal() {
		return cur, false, nil
	}
	c := finishClaim{
		ID:              FinishID(tenant, id),
		TenantID:        tenant,
		AssessmentID:    id,
		Status:          status,
		MissingFamilies: missing,
		Reason:          reason,
		At:              orNow(at),
	}
	_, err = r.finishes.InsertOne(ctx, c)
	switch {
	case err == nil:
		a, err := r.apply(ctx, c)
		return a, err == nil, err
	case !mongo.IsDuplicateKeyError(err):
		return Assessment{}, false, wrap("claim finish of "+id, err)
	}
	// Another caller claimed it. Its claim, not this call's arguments, decides
	// the outcome; applying it again also completes a finish whose claimant
	// stopped between the claim and the update.
	won, found, err := r.claim(ctx, tenant, id)
	if err != nil {
		return Assessment{}, false, err
	}
	if !found {
		return Assessment{}, false, fmt.Errorf("store: finish assessment %s: claim vanished", id)
	}
	a, err := r.apply(ctx, won)
	return a, false, err
}

// Announcement is the claim to announce an assessment's outcome: Owner names
// the one caller that publishes the completed event, At when it claimed.
type Announcement struct {
	ID           string    `bson:"_id"`
	TenantID     string    `bson:"tenant_id"`
	AssessmentID string    `bson:"assessment_id"`
	Owner        string    `bson:"owner"`
	At           time.Time `bson:"at"`
}

// AnnouncementID is the _id of an assessment's announcement claim in CollAnnouncements.
func AnnouncementID(tenant, assessmentID string) string {
	return assessment.DeterministicID(tenant, assessmentID, "announce")
}

// ClaimAnnouncement makes owner the announcer of a closed assessment unless
// another owner already is, and returns the claim that holds. Like Finish it
// inserts against a deterministic _id, the one write that is atomic on
// MongoDB and FerretDB alike, so of any number of concurrent callers, in
// any number of processes, exactly one owns the announcement.
func (r *Assessments) ClaimAnnouncement(ctx context.Context, tenant, id, owner string, at time.Time) (Announcement, error) {
	if err := required("claim announcement", "tenant", tenant, "assessment id", id, "owner", owner); err != nil {
		return Announcement{}, err
	}
	c := Announcement{ID: AnnouncementID(tenant, id), TenantID: tenant, AssessmentID: id, Owner: owner, At: orNow(at).UTC().Truncate(time.Millisecond)}
	_, err := r.announcements.InsertOne(ctx, c)
	switch {
	case err == nil:
		return c, nil
	case !mongo.IsDuplicateKeyError(err):
		return Announcement{}, wrap("claim announcement of "+id, err)
	}
	var won Announcement
	if err := findByKey(ctx, r.announcements, tenant, c.ID, &won, func() string { return won.TenantID }); err != nil {
		return Announcement{}, wrap("read announcement claim of "+id, err)
	}
	return won, nil
}

// claim reads the finish claim of an assessment, if any.
func (r *Assessments) claim(ctx context.Context, tenant, id string) (finishClaim, bool, error) {
	var c finishClaim
	err := findByKey(ctx, r.finishes, tenant, FinishID(tenant, id), &c, func() string { return c.TenantID })
	switch {
	case errors.Is(err, ErrNotFound):
		return finishClaim{}, false, nil
	case err != nil:
		return finishClaim{}, false, wrap("read finish claim of "+id, err)
	}
	return c, true, nil
}

// apply writes a claim's terminal fields onto its assessment. The values come
// from the claim only, so applying it any number of times gives one result.
func (r *Assessments) apply(ctx context.Context, c finishClaim) (Assessment, error) {
	set := bson.D{
		{Key: "status", Value: c.Status},
		{Key: "completed_at", Value: c.At},
		{Key: "updated_at", Value: c.At},
	}
	if len(c.MissingFamilies) > 0 {
		set = append(set, bson.E{Key: "missing_families", Value: c.MissingFamilies})
	}
	if c.Reason != "" {
		set = append(set, bson.E{Key: "reason", Value: c.Reason})
	}
	var a Assessment
	err := r.coll.FindOneAndUpdate(ctx, byKey(AssessmentKey(c.TenantID, c.AssessmentID)), bson.D{{Key: "$set", Value: set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&a)
	if err != nil {
		return Assessment{}, wrap("finish assessment "+c.AssessmentID, err)
	}
	if a.TenantID != c.TenantID {
		return a, nil
	}
	return a, r.views.putAssessment(ctx, a)
}

// Overdue lists non-terminal assessments of every tenant whose deadline is
// before now (the synthesizer's deadline sweeper, a system task). It is the
// one query without a tenant filter, by design: the sweeper serves all
// tenants and then acts on each assessment with its own tenant id.
func (r *Assessments) Overdue(ctx context.Context, now time.Time, limit int) ([]Assessment, error) {
	if limit <= 0 {
		limit = DefaultOverdueLimit
	}
	filter := bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: nonTerminal()}}},
		{Key: "deadline", Value: bson.D{{Key: "$lt", Value: now}}},
	}
	fo := options.Find().SetSort(bson.D{{Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit))
	cur, err := r.coll.Find(ctx, filter, fo)
	if err != nil {
		return nil, wrap("overdue assessments", err)
	}
	var found []Assessment
	if err := cur.All(ctx, &found); err != nil {
		return nil, wrap("overdue assessments", err)
	}
	found, err = r.withCloses(ctx, found)
	if err != nil {
		return nil, err
	}
	// A document still says queued or running after its close (Close).
	out := slices.DeleteFunc(found, func(a Assessment) bool { return assessment.Status(a.Status).Terminal() })
	return out, nil
}

// VersionID is the id of version n (2, 3, ...) of base assessment baseID: a
// name-based UUIDv5 (RFC 9562 section 5.5), so two concurrent re-runs that
// pick the same number collide on the primary key and one moves on to n+1.
func VersionID(baseID string, n int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://infra-mind.dev/assessment/"+baseID+"/v/"+strconv.Itoa(n))).String()
}

// MaxChildren bounds the versions or scenarios Children returns.
const MaxChildren = 1000

// Children lists the child assessments of kind (KindVersion or KindScenario)
// of tenant's assessment parentID, oldest first. The filter is tenant-scoped;
// on FerretDB's SQLite backend it scans the tenant's assessments (secondary
// indexes are not used there), which is acceptable for a per-assessment list;
// MongoDB uses the tenant_parent_kind index.
func (r *Assessments) Children(ctx context.Context, tenant, parentID, kind string) ([]Assessment, error) {
	if err := required("list child assessments", "tenant", tenant, "parent id", parentID, "kind", kind); err != nil {
		return nil, err
	}
	if r.views != nil {
		pos, err := r.views.rm.Children(ctx, tenant, parentID, kind)
		if err != nil {
			return nil, wrap("list children of "+parentID, err)
		}
		if len(pos) > MaxChildren {
			pos = pos[:MaxChildren]
		}
		return r.getAll(ctx, tenant, pos)
	}
	filter := bson.D{
		{Key: "tenant_id", Value: tenant},
		{Key: "parent_id", Value: parentID},
		{Key: "kind", Value: kind},
	}
	fo := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(MaxChildren)
	cur, err := r.coll.Find(ctx, filter, fo)
	if err != nil {
		return nil, wrap("list children of "+parentID, err)
	}
	out := []Assessment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list children of "+parentID, err)
	}
	return r.withCloses(ctx, out)
}
