package progress

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Tombstone marks an erased assessment. It names the assessment (ids only,
// never its content) so a later pass can erase again whatever a writer that
// was already running when the erasure began stored after it (Swept says
// that pass ran).
type Tombstone struct {
	TenantID     string    `json:"tenant_id"`
	AssessmentID string    `json:"assessment_id"`
	At           time.Time `json:"at"`
	// Since is when the assessment was created: what the broker holds about
	// it was published after that.
	Since time.Time `json:"since"`
	// EventIDs are the ids of the assessment's events the erasure found,
	// kept so that a retry or the later pass still finds their webhook
	// deliveries once the events themselves are gone.
	EventIDs []string `json:"event_ids,omitempty"`
	Swept    bool     `json:"swept,omitempty"`
}

// tombstonePart is the key part of an assessment's tombstone.
const tombstonePart = "erased"

// MarkErased writes the assessment's tombstone (replacing an earlier one,
// so a repeated erasure is swept again). Writers that find it store
// nothing more about the assessment. It lives as long as the bucket keeps
// entries, which is as long as the streams keep the messages that could
// make a writer act on the assessment.
func (s *State) MarkErased(ctx context.Context, t Tombstone) error {
	if err := required("mark erased", "tenant", t.TenantID, "assessment id", t.AssessmentID); err != nil {
		return err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("progress: encode tombstone of %s: %w", t.AssessmentID, err)
	}
	s.count("put")
	if _, err := s.kv.Put(ctx, key(t.TenantID, t.AssessmentID, tombstonePart), b); err != nil {
		return fmt.Errorf("progress: mark %s erased: %w", t.AssessmentID, err)
	}
	return nil
}

// Tombstone returns tenant's assessment's tombstone, if it has one.
func (s *State) Tombstone(ctx context.Context, tenant, assessmentID string) (Tombstone, bool, error) {
	if err := required("read tombstone", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return Tombstone{}, false, err
	}
	var t Tombstone
	found, err := s.get(ctx, key(tenant, assessmentID, tombstonePart), &t)
	if err != nil {
		return Tombstone{}, false, fmt.Errorf("progress: read tombstone of %s: %w", assessmentID, err)
	}
	if !found || t.TenantID != tenant {
		return Tombstone{}, false, nil
	}
	return t, true, nil
}

// Erased reports whether tenant's assessment was erased.
func (s *State) Erased(ctx context.Context, tenant, assessmentID string) (bool, error) {
	if err := required("read tombstone", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return false, err
	}
	var t Tombstone
	found, err := s.get(ctx, key(tenant, assessmentID, tombstonePart), &t)
	if err != nil {
		return false, fmt.Errorf("progress: read tombstone of %s: %w", assessmentID, err)
	}
	return found && t.TenantID == tenant, nil
}

// Erase removes every key of the assessment's state but its tombstone:
// results, claims, and any part added later under the assessment's prefix.
// Each key is purged, which drops its earlier revisions too. It returns how
// many keys it removed.
func (s *State) Erase(ctx context.Context, tenant, assessmentID string) (int, error) {
	if err := required("erase", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return 0, err
	}
	keys, err := s.keys(ctx, key(tenant, assessmentID)+".>")
	if err != nil {
		return 0, fmt.Errorf("progress: list keys of %s: %w", assessmentID, err)
	}
	tomb := key(tenant, assessmentID, tombstonePart)
	n := 0
	for _, k := range keys {
		if k == tomb {
			continue
		}
		if err := s.kv.Purge(ctx, k); err != nil {
			return n, fmt.Errorf("progress: purge %s of %s: %w", k, assessmentID, err)
		}
		n++
	}
	return n, nil
}

// Tombstones returns the tombstones written at or before olderThan that no
// later pass swept yet.
func (s *State) Tombstones(ctx context.Context, olderThan time.Time) ([]Tombstone, error) {
	keys, err := s.keys(ctx, "*."+tombstonePart)
	if err != nil {
		return nil, fmt.Errorf("progress: list tombstones: %w", err)
	}
	var out []Tombstone
	for _, k := range keys {
		var t Tombstone
		found, err := s.get(ctx, k, &t)
		if err != nil {
			return nil, fmt.Errorf("progress: read tombstone %s: %w", k, err)
		}
		if found && !t.Swept && !t.At.After(olderThan) {
			out = append(out, t)
		}
	}
	return out, nil
}

// keys lists the bucket's keys matching filter (a subject filter on keys),
// once each and sorted. The lister reports a key more than once when it is
// written during the listing.
func (s *State) keys(ctx context.Context, filter string) ([]string, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lister.Stop() }()
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	if err := ctx.Err(); err != nil {
		// The lister stops early, without saying so, when ctx ends.
		return nil, err
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}
