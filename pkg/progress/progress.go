// Package progress keeps the pipeline state of each assessment in flight (its
// families' results, and the claims that finish and announce it) in a
// JetStream key-value bucket (bus.BucketProgress). Every read and write is one
// lookup by a key derived from the tenant and the assessment, whose cost does
// not grow with the number of assessments stored: FerretDB on PostgreSQL
// reads a whole table for any document lookup (ADR 0021). The document store
// keeps what people read and list: assessments, reports, recommendations.
package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
)

// ErrInvalid is wrapped by errors for arguments State refuses (an empty
// tenant, assessment, family or owner, an unknown family).
var ErrInvalid = errors.New("invalid argument")

// Result is one family's result: Data holds the protojson of the
// AgentResultPublished as the family published it, or Seq says where it is:
// the sequence of the message it came in, in the RESULTS stream. The stream
// keeps a message and this bucket an entry for the same time (the bus's
// MaxAge, 7 days by default), the entry counted from when it was written,
// after the message; a synthesizer that finds the message gone drops the
// work of an erased assessment and refuses any other (pkg/synth).
// A result with a Seq is stored as a reference (resultValue): a few hundred
// bytes instead of a copy of a message of up to about 110 KB, which doubled
// the bytes the broker wrote for every assessment. Without one it is stored
// as its other fields' JSON, a newline, then Data unchanged, so neither
// writing nor reading it encodes or parses Data; values written as one JSON
// document (Data in base64), before, are still read.
type Result struct {
	TenantID     string    `json:"tenant_id"`
	AssessmentID string    `json:"assessment_id"`
	Family       string    `json:"family"`
	Data         []byte    `json:"data"`
	Seq          uint64    `json:"seq,omitempty"`
	ReceivedAt   time.Time `json:"received_at"`
}

// Finish is the claim that closed an assessment: the first caller to create
// it decides the terminal status, missing families and reason, and the
// families' marks the closed assessment shows.
type Finish struct {
	TenantID        string          `json:"tenant_id"`
	AssessmentID    string          `json:"assessment_id"`
	Status          string          `json:"status"`
	MissingFamilies []string        `json:"missing_families,omitempty"`
	Reason          string          `json:"reason,omitempty"`
	At              time.Time       `json:"at"`
	Families        map[string]Mark `json:"families,omitempty"`
}

// Mark is one family's completion as people see it.
type Mark struct {
	CompletedAt time.Time `json:"completed_at"`
	Summary     string    `json:"summary,omitempty"`
}

// Marks is what people see of an assessment in flight: the families that
// have answered and, once it moved, the deadline. The document store's
// assessment is not written while it runs (each write by key reads a whole
// table on FerretDB with PostgreSQL, ADR 0029); readers lay these over it.
type Marks struct {
	TenantID     string          `json:"tenant_id"`
	AssessmentID string          `json:"assessment_id"`
	Families     map[string]Mark `json:"families"`
	// Deadline is the assessment's deadline once the synthesizer moved it
	// (zero until then).
	Deadline  time.Time `json:"deadline,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Announcement is the claim to announce an assessment's outcome: Owner
// names the one caller that publishes the completed event, At when it claimed.
type Announcement struct {
	TenantID     string    `json:"tenant_id"`
	AssessmentID string    `json:"assessment_id"`
	Owner        string    `json:"owner"`
	At           time.Time `json:"at"`
}

// State reads and writes the bucket. Its methods are safe for concurrent use.
type State struct {
	kv    jetstream.KeyValue
	count func(op string)
}

// Option adjusts a State.
type Option func(*State)

// CountOps calls count with "get", "create", "update" or "put" for every request State
// sends to the bucket, so a benchmark or a metric can show the round trips
// per assessment.
func CountOps(count func(op string)) Option {
	return func(s *State) { s.count = count }
}

// Open binds to the bucket that bus.Connect declared.
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*State, error) {
	kv, err := js.KeyValue(ctx, bus.BucketProgress)
	if err != nil {
		return nil, fmt.Errorf("progress: open bucket %s: %w", bus.BucketProgress, err)
	}
	s := &State{kv: kv, count: func(string) {}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// key is where one part of an assessment's state lives. The tenant is part
// of the hashed prefix, so another tenant's assessment id reads as missing;
// the hash also keeps any id within the bucket's key alphabet.
func key(tenant, assessmentID string, part ...string) string {
	k := assessment.DeterministicID(tenant, assessmentID)
	for _, p := range part {
		k += "." + p
	}
	return k
}

func required(op string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return fmt.Errorf("progress: %s: %w: %s is required", op, ErrInvalid, fields[i])
		}
	}
	return nil
}

// PutResult stores a family's result, replacing an earlier one, and reports
// whether it is the family's first (false on a redelivery).
func (s *State) PutResult(ctx context.Context, r Result) (bool, error) {
	if err := required("put result", "tenant", r.TenantID, "assessment id", r.AssessmentID, "family", r.Family); err != nil {
		return false, err
	}
	if _, ok := assessment.ParseFamily(r.Family); !ok {
		return false, fmt.Errorf("progress: put result: %w: unknown family %q", ErrInvalid, r.Family)
	}
	b, err := resultValue(r)
	if err != nil {
		return false, fmt.Errorf("progress: encode %s result of %s: %w", r.Family, r.AssessmentID, err)
	}
	k := key(r.TenantID, r.AssessmentID, "result", r.Family)
	s.count("create")
	_, err = s.kv.Create(ctx, k, b)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, jetstream.ErrKeyExists):
		return false, fmt.Errorf("progress: store %s result of %s: %w", r.Family, r.AssessmentID, err)
	}
	s.count("put")
	if _, err := s.kv.Put(ctx, k, b); err != nil {
		return false, fmt.Errorf("progress: store %s result of %s: %w", r.Family, r.AssessmentID, err)
	}
	return false, nil
}

// Results returns the stored results of one assessment of tenant, in the
// order of assessment.Families, one lookup per family.
func (s *State) Results(ctx context.Context, tenant, assessmentID string) ([]Result, error) {
	if err := required("read results", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return nil, err
	}
	// The lookups are independent: sent at once, they cost one round trip.
	families := assessment.Families()
	rows := make([]Result, len(families))
	found := make([]bool, len(families))
	g, gctx := errgroup.WithContext(ctx)
	for i, f := range families {
		g.Go(func() error {
			ok, err := s.getWith(gctx, key(tenant, assessmentID, "result", string(f)),
				func(b []byte) error { return readResult(b, &rows[i]) })
			if err != nil {
				return fmt.Errorf("progress: read %s result of %s: %w", f, assessmentID, err)
			}
			found[i] = ok && rows[i].TenantID == tenant
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := []Result{}
	for i, r := range rows {
		if found[i] {
			out = append(out, r)
		}
	}
	return out, nil
}

// resultHeader is what a stored result holds besides its data.
type resultHeader struct {
	TenantID     string    `json:"tenant_id"`
	AssessmentID string    `json:"assessment_id"`
	Family       string    `json:"family"`
	Seq          uint64    `json:"seq,omitempty"`
	ReceivedAt   time.Time `json:"received_at"`
}

// refMark starts a stored reference: refMark, then the header's JSON with
// its Seq. A reader from before references fails on it (the JSON it expects
// cannot start so) instead of taking a reference for a result without data,
// so during a rolling upgrade an older synthesizer retries, and a newer one
// closes the assessment.
const refMark = 'R'

// resultValue is r as stored: a reference (refMark and its header's JSON)
// when r has a Seq, otherwise its header's JSON, a newline, its data as is.
// encoding/json writes no newline outside a string and escapes it inside
// one, so the first newline ends the header, and a value without one is a
// result stored as one JSON document.
func resultValue(r Result) ([]byte, error) {
	h, err := json.Marshal(resultHeader{TenantID: r.TenantID, AssessmentID: r.AssessmentID, Family: r.Family, Seq: r.Seq, ReceivedAt: r.ReceivedAt})
	if err != nil {
		return nil, err
	}
	if r.Seq > 0 {
		return append([]byte{refMark}, h...), nil
	}
	b := make([]byte, 0, len(h)+1+len(r.Data))
	b = append(b, h...)
	b = append(b, '\n')
	return append(b, r.Data...), nil
}

// readResult decodes a stored result in any of its forms (a reference,
// resultValue's header and data, or one JSON document with the data in
// base64).
func readResult(b []byte, r *Result) error {
	if len(b) > 0 && b[0] == refMark {
		var h resultHeader
		if err := json.Unmarshal(b[1:], &h); err != nil {
			return err
		}
		if h.Seq == 0 {
			return errors.New("a stored reference without a stream sequence")
		}
		*r = Result{TenantID: h.TenantID, AssessmentID: h.AssessmentID, Family: h.Family, Seq: h.Seq, ReceivedAt: h.ReceivedAt}
		return nil
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return json.Unmarshal(b, r)
	}
	var h resultHeader
	if err := json.Unmarshal(b[:i], &h); err != nil {
		return err
	}
	*r = Result{TenantID: h.TenantID, AssessmentID: h.AssessmentID, Family: h.Family, ReceivedAt: h.ReceivedAt, Data: b[i+1:]}
	return nil
}

// ClaimFinish makes f the assessment's finish unless another caller's claim
// came first, and returns the claim that holds and whether it is f. Creating
// a key is atomic in JetStream, so of any number of concurrent callers in any
// number of processes exactly one wins.
func (s *State) ClaimFinish(ctx context.Context, f Finish) (Finish, bool, error) {
	if err := required("claim finish", "tenant", f.TenantID, "assessment id", f.AssessmentID, "status", f.Status); err != nil {
		return Finish{}, false, err
	}
	if !assessment.Status(f.Status).Terminal() {
		return Finish{}, false, fmt.Errorf("progress: claim finish: %w: status %q is not terminal", ErrInvalid, f.Status)
	}
	won, created, err := claim(ctx, s, key(f.TenantID, f.AssessmentID, "finish"), f, &Finish{})
	if err != nil {
		return Finish{}, false, fmt.Errorf("progress: claim finish of %s: %w", f.AssessmentID, err)
	}
	return *won, created, nil
}

// Finished returns the assessment's finish claim, if it has one.
func (s *State) Finished(ctx context.Context, tenant, assessmentID string) (Finish, bool, error) {
	if err := required("read finish", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return Finish{}, false, err
	}
	var f Finish
	found, err := s.get(ctx, key(tenant, assessmentID, "finish"), &f)
	if err != nil {
		return Finish{}, false, fmt.Errorf("progress: read finish of %s: %w", assessmentID, err)
	}
	return f, found && f.TenantID == tenant, nil
}

// maxUpdateAttempts bounds the compare-and-set retries of one update of an
// assessment's marks; each retry means another writer's update landed.
const maxUpdateAttempts = 16

// MarkFamily records that family answered (the first completion time and
// summary stay on a redelivery) and returns the marks after the update. Two
// writers marking families of one assessment at once both land: the update
// is a compare-and-set on the key's revision, retried on a conflict.
func (s *State) MarkFamily(ctx context.Context, tenant, assessmentID, family, summary string, at time.Time) (Marks, error) {
	if err := required("mark family", "tenant", tenant, "assessment id", assessmentID, "family", family); err != nil {
		return Marks{}, err
	}
	if _, ok := assessment.ParseFamily(family); !ok {
		return Marks{}, fmt.Errorf("progress: mark family: %w: unknown family %q", ErrInvalid, family)
	}
	m, err := s.updateMarks(ctx, tenant, assessmentID, func(m *Marks) bool {
		if _, done := m.Families[family]; done {
			return false
		}
		m.Families[family] = Mark{CompletedAt: at, Summary: summary}
		m.UpdatedAt = at
		return true
	})
	if err != nil {
		return Marks{}, fmt.Errorf("progress: mark %s on %s: %w", family, assessmentID, err)
	}
	return m, nil
}

// MoveDeadline records the assessment's new deadline and returns the marks
// after the update.
func (s *State) MoveDeadline(ctx context.Context, tenant, assessmentID string, deadline, at time.Time) (Marks, error) {
	if err := required("move deadline", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return Marks{}, err
	}
	m, err := s.updateMarks(ctx, tenant, assessmentID, func(m *Marks) bool {
		if !deadline.After(m.Deadline) {
			return false
		}
		m.Deadline, m.UpdatedAt = deadline, at
		return true
	})
	if err != nil {
		return Marks{}, fmt.Errorf("progress: move deadline of %s: %w", assessmentID, err)
	}
	return m, nil
}

// Marks returns the assessment's marks, if any family answered or its
// deadline moved.
func (s *State) Marks(ctx context.Context, tenant, assessmentID string) (Marks, bool, error) {
	if err := required("read marks", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return Marks{}, false, err
	}
	m, _, err := s.marks(ctx, tenant, assessmentID)
	if err != nil {
		return Marks{}, false, fmt.Errorf("progress: read marks of %s: %w", assessmentID, err)
	}
	return m, m.TenantID == tenant, nil
}

// marks reads the marks and their revision (0 when there are none).
func (s *State) marks(ctx context.Context, tenant, assessmentID string) (Marks, uint64, error) {
	s.count("get")
	e, err := s.kv.Get(ctx, key(tenant, assessmentID, "marks"))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return Marks{}, 0, nil
	case err != nil:
		return Marks{}, 0, err
	}
	var m Marks
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return Marks{}, 0, fmt.Errorf("decode marks: %w", err)
	}
	if m.TenantID != tenant {
		// Another tenant's assessment under a colliding hash: none of
		// this tenant's.
		return Marks{}, 0, errors.New("marks belong to another tenant")
	}
	return m, e.Revision(), nil
}

// updateMarks applies change to the assessment's marks with a
// compare-and-set, reading and applying again when another writer's update
// landed first. change reports whether it changed anything; nothing is
// written when it did not.
func (s *State) updateMarks(ctx context.Context, tenant, assessmentID string, change func(*Marks) bool) (Marks, error) {
	k := key(tenant, assessmentID, "marks")
	for range maxUpdateAttempts {
		m, rev, err := s.marks(ctx, tenant, assessmentID)
		if err != nil {
			return Marks{}, err
		}
		if m.Families == nil {
			m = Marks{TenantID: tenant, AssessmentID: assessmentID, Families: map[string]Mark{}}
		}
		if !change(&m) {
			return m, nil
		}
		b, err := json.Marshal(m)
		if err != nil {
			return Marks{}, err
		}
		if rev == 0 {
			s.count("create")
			_, err = s.kv.Create(ctx, k, b)
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
		} else {
			s.count("update")
			_, err = s.kv.Update(ctx, k, b, rev)
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				continue
			}
		}
		if err != nil {
			return Marks{}, err
		}
		return m, nil
	}
	return Marks{}, fmt.Errorf("%d concurrent updates in a row", maxUpdateAttempts)
}

// ClaimAnnouncement makes a.Owner the announcer of a closed assessment
// unless another owner already is, and returns the claim that holds.
func (s *State) ClaimAnnouncement(ctx context.Context, a Announcement) (Announcement, error) {
	if err := required("claim announcement", "tenant", a.TenantID, "assessment id", a.AssessmentID, "owner", a.Owner); err != nil {
		return Announcement{}, err
	}
	won, _, err := claim(ctx, s, key(a.TenantID, a.AssessmentID, "announce"), a, &Announcement{})
	if err != nil {
		return Announcement{}, fmt.Errorf("progress: claim announcement of %s: %w", a.AssessmentID, err)
	}
	return *won, nil
}

// claim creates k with v; when k exists it decodes the holder into into and
// returns it instead.
func claim[T any](ctx context.Context, s *State, k string, v T, into *T) (*T, bool, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false, err
	}
	s.count("create")
	_, err = s.kv.Create(ctx, k, b)
	switch {
	case err == nil:
		return &v, true, nil
	case !errors.Is(err, jetstream.ErrKeyExists):
		return nil, false, err
	}
	found, err := s.get(ctx, k, into)
	switch {
	case err != nil:
		return nil, false, err
	case !found:
		// Created and then removed (the bucket's age limit) between the two
		// requests: a caller retries.
		return nil, false, errors.New("claim vanished")
	}
	return into, false, nil
}

func (s *State) get(ctx context.Context, k string, v any) (bool, error) {
	return s.getWith(ctx, k, func(b []byte) error { return json.Unmarshal(b, v) })
}

// getWith is get with the value's own decoder.
func (s *State) getWith(ctx context.Context, k string, decode func([]byte) error) (bool, error) {
	s.count("get")
	e, err := s.kv.Get(ctx, k)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	if err := decode(e.Value()); err != nil {
		return false, fmt.Errorf("decode %s: %w", k, err)
	}
	return true, nil
}
