package apptest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// Narratives is an in-memory app.NarrativeStore with the store's rules: one
// narrative per (tenant, assessment, audience), another tenant's reads as
// ErrNotFound. Upsert is the consultant's write, for setting up a test.
type Narratives struct {
	mu   sync.Mutex
	docs map[string]store.Narrative
}

// NewNarratives returns an empty narrative store.
func NewNarratives() *Narratives { return &Narratives{docs: map[string]store.Narrative{}} }

// Upsert stores a narrative, as store.Narratives.Upsert does.
func (n *Narratives) Upsert(_ context.Context, doc store.Narrative) error {
	if err := required("upsert narrative", "tenant", doc.TenantID, "assessment id", doc.AssessmentID, "audience", doc.Audience); err != nil {
		return err
	}
	want := store.NarrativeID(doc.TenantID, doc.AssessmentID, doc.Audience)
	if doc.ID == "" {
		doc.ID = want
	}
	if doc.ID != want {
		return fmt.Errorf("apptest: upsert narrative: %w: id %q is not NarrativeID(tenant, assessment, audience)", store.ErrInvalid, doc.ID)
	}
	if doc.CreatedAt.IsZero() {
		doc.CreatedAt = time.Now()
	}
	doc.CreatedAt = ms(doc.CreatedAt)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.docs[doc.ID] = doc
	return nil
}

// Get returns tenant's narrative of an assessment for an audience.
func (n *Narratives) Get(_ context.Context, tenant, assessmentID, audience string) (store.Narrative, error) {
	if err := required("get narrative", "tenant", tenant, "assessment id", assessmentID, "audience", audience); err != nil {
		return store.Narrative{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	doc, ok := n.docs[store.NarrativeID(tenant, assessmentID, audience)]
	if !ok || doc.TenantID != tenant {
		return store.Narrative{}, fmt.Errorf("apptest: get narrative of %s: %w", assessmentID, store.ErrNotFound)
	}
	return doc, nil
}

// List returns tenant's narratives of an assessment, as store.Narratives.List does.
func (n *Narratives) List(_ context.Context, tenant, assessmentID string) ([]store.Narrative, error) {
	if err := required("list narratives", "tenant", tenant, "assessment id", assessmentID); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []store.Narrative
	for _, doc := range n.docs {
		if doc.TenantID == tenant && doc.AssessmentID == assessmentID {
			out = append(out, doc)
		}
	}
	return out, nil
}
