// Package readmodel is the store's read model (store.ReadModel) on a
// JetStream key-value bucket (bus.BucketReadModel): assessments, reports
// and recommendations by key, each tenant's list as a sorted index split
// into chunks, and each assessment's children as one key. A read is a
// direct get of one key and a page of a list reads a directory and one or
// two chunks, so neither grows with the number of assessments stored;
// FerretDB on PostgreSQL reads a whole table for every filtered read
// (ADR 0030, ADR 0048).
//
// Keys (th is a hash of the tenant, so every key is the tenant's alone; ids
// are base64url so any id fits the bucket's key alphabet):
//
//	a.<th>.<id>                 the assessment (BSON of store.Assessment)
//	r.<th>.<id>                 its report (store.MarshalReport: body compressed)
//	c.<th>.<id>                 its recommendations (BSON)
//	x.<th>                      the directory of the tenant's list: the lower bound of each chunk
//	p.<th>.<chunk>              a chunk of the tenant's list: up to 256 positions, newest first
//	v.<th>.<parent>.<kind>      the versions or scenarios of an assessment, oldest first
//	w.<th>                      a mark whose revision moves with every change of the tenant's webhooks
//
// Keys of the layout before ADR 0048 (h, l and k) are copied into the
// index the first time a tenant's list is read or written (index.go).
package readmodel

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// maxAttempts bounds the compare-and-set retries of one write.
const maxAttempts = 32

// Model is the read model on the bucket. Its methods are safe for
// concurrent use, in any number of processes.
type Model struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

var _ store.ReadModel = (*Model)(nil)

// Open binds to the bucket that bus.Connect declared.
func Open(ctx context.Context, js jetstream.JetStream) (*Model, error) {
	kv, err := js.KeyValue(ctx, bus.BucketReadModel)
	if err != nil {
		return nil, fmt.Errorf("readmodel: open bucket %s: %w", bus.BucketReadModel, err)
	}
	return &Model{js: js, kv: kv}, nil
}

func tenantHash(tenant string) string { return assessment.DeterministicID("read-model", tenant) }

func idToken(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func docKey(kind, tenant, id string) string {
	return kind + "." + tenantHash(tenant) + "." + idToken(id)
}

// get reads key; found is false when it does not exist.
func (m *Model) get(ctx context.Context, key string) (jetstream.KeyValueEntry, bool, error) {
	e, err := m.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return e, true, nil
}

// conflict says a compare-and-set lost to another writer.
func conflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// GetAssessment returns tenant's assessment id, if the read model has it.
func (m *Model) GetAssessment(ctx context.Context, tenant, id string) (store.Assessment, bool, error) {
	e, found, err := m.get(ctx, docKey("a", tenant, id))
	if err != nil || !found {
		return store.Assessment{}, false, err
	}
	var a store.Assessment
	if err := bson.Unmarshal(e.Value(), &a); err != nil {
		return store.Assessment{}, false, fmt.Errorf("readmodel: decode assessment %s: %w", id, err)
	}
	if a.TenantID != tenant || a.ID != id {
		return store.Assessment{}, false, nil
	}
	return a, true, nil
}

// PutAssessment merges a into the stored copy (store.MergeAssessment). The
// first copy of an assessment is written after its list and child keys, so
// an assessment the read model has is always listed.
func (m *Model) PutAssessment(ctx context.Context, a store.Assessment) error {
	if a.TenantID == "" || a.ID == "" {
		return fmt.Errorf("readmodel: put assessment: %w: tenant and id are required", store.ErrInvalid)
	}
	a.Key = store.AssessmentKey(a.TenantID, a.ID)
	key := docKey("a", a.TenantID, a.ID)
	for range maxAttempts {
		e, found, err := m.get(ctx, key)
		if err != nil {
			return fmt.Errorf("readmodel: read assessment %s: %w", a.ID, err)
		}
		if !found {
			if err := m.index(ctx, a); err != nil {
				return err
			}
			b, err := bson.Marshal(a)
			if err != nil {
				return fmt.Errorf("readmodel: encode assessment %s: %w", a.ID, err)
			}
			_, err = m.kv.Create(ctx, key, b)
			if conflict(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("readmodel: write assessment %s: %w", a.ID, err)
			}
			return nil
		}
		var cur store.Assessment
		if err := bson.Unmarshal(e.Value(), &cur); err != nil {
			return fmt.Errorf("readmodel: decode assessment %s: %w", a.ID, err)
		}
		merged := store.MergeAssessment(cur, a)
		b, err := bson.Marshal(merged)
		if err != nil {
			return fmt.Errorf("readmodel: encode assessment %s: %w", a.ID, err)
		}
		if string(b) == string(e.Value()) {
			return nil // a repeated write
		}
		_, err = m.kv.Update(ctx, key, b, e.Revision())
		if conflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("readmodel: write assessment %s: %w", a.ID, err)
		}
		return nil
	}
	return fmt.Errorf("readmodel: write assessment %s: %d concurrent writers won", a.ID, maxAttempts)
}

// index adds an assessment to its tenant's list and, for a version or
// scenario, to its base's children.
func (m *Model) index(ctx context.Context, a store.Assessment) error {
	p := posOf(a.CreatedAt, a.ID)
	if err := m.insert(ctx, a.TenantID, p); err != nil {
		return fmt.Errorf("readmodel: list assessment %s: %w", a.ID, err)
	}
	if a.ParentID != "" && a.Kind != "" {
		if err := m.changeChild(ctx, a.TenantID, a.ParentID, a.Kind, []pos{p}, true); err != nil {
			return fmt.Errorf("readmodel: list %s %s of %s: %w", a.Kind, a.ID, a.ParentID, err)
		}
	}
	return nil
}

// keys lists the keys matching filter.
func (m *Model) keys(ctx context.Context, filter string) ([]string, error) {
	lister, err := m.kv.ListKeysFiltered(ctx, filter)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, k)
	}
	// The channel closes once every key is delivered and the lister has
	// stopped itself (a second Stop only reports that), or when ctx ends.
	return out, ctx.Err()
}

// ListAssessments reads the tenant's directory and the chunks from the
// one holding the cursor down, until the page is full.
func (m *Model) ListAssessments(ctx context.Context, tenant string, before *store.ListPosition, limit int) ([]store.ListPosition, error) {
	var b *pos
	if before != nil {
		p := posOf(before.At, before.ID)
		b = &p
	}
	ps, err := m.page(ctx, tenant, b, limit)
	if err != nil {
		return nil, fmt.Errorf("readmodel: list assessments: %w", err)
	}
	out := make([]store.ListPosition, len(ps))
	for i, p := range ps {
		out[i] = p.listPosition()
	}
	return out, nil
}

// Children reads the tenant's children of kind of parentID, oldest first:
// one key.
func (m *Model) Children(ctx context.Context, tenant, parentID, kind string) ([]store.ListPosition, error) {
	ps, _, found, err := m.readChildren(ctx, tenant, parentID, kind)
	if err != nil {
		return nil, fmt.Errorf("readmodel: list children of %s: %w", parentID, err)
	}
	if !found {
		// None, or the tenant's keys of the layout before ADR 0048 are not
		// copied yet: directory copies them.
		d, dfound, err := m.directory(ctx, tenant, false)
		if err != nil {
			return nil, fmt.Errorf("readmodel: list children of %s: %w", parentID, err)
		}
		if dfound && d.Had {
			if ps, _, _, err = m.readChildren(ctx, tenant, parentID, kind); err != nil {
				return nil, fmt.Errorf("readmodel: list children of %s: %w", parentID, err)
			}
		}
	}
	out := make([]store.ListPosition, len(ps))
	for i, p := range ps {
		out[i] = p.listPosition()
	}
	return out, nil
}

// GetReport returns the tenant's report of assessmentID, if the read model has it.
func (m *Model) GetReport(ctx context.Context, tenant, assessmentID string) (store.Report, bool, error) {
	e, found, err := m.get(ctx, docKey("r", tenant, assessmentID))
	if err != nil || !found {
		return store.Report{}, false, err
	}
	rep, err := store.UnmarshalReport(e.Value())
	if err != nil {
		return store.Report{}, false, fmt.Errorf("readmodel: %w", err)
	}
	return rep, rep.TenantID == tenant && rep.AssessmentID == assessmentID, nil
}

// PutReport stores a copy of a report in its stored form
// (store.MarshalReport); replace false keeps an existing one.
func (m *Model) PutReport(ctx context.Context, tenant, assessmentID string, stored []byte, replace bool) error {
	return m.put(ctx, docKey("r", tenant, assessmentID), stored, replace)
}

// GetRecommendations returns the tenant's recommendations of assessmentID,
// if the read model has them.
func (m *Model) GetRecommendations(ctx context.Context, tenant, assessmentID string) (store.Recommendations, bool, error) {
	e, found, err := m.get(ctx, docKey("c", tenant, assessmentID))
	if err != nil || !found {
		return store.Recommendations{}, false, err
	}
	rec, err := store.UnmarshalRecommendations(e.Value())
	if err != nil {
		return store.Recommendations{}, false, fmt.Errorf("readmodel: %w", err)
	}
	return rec, rec.TenantID == tenant && rec.AssessmentID == assessmentID, nil
}

// PutRecommendations stores a copy of recommendations in their stored form
// (store.MarshalRecommendations); replace false keeps an existing one.
func (m *Model) PutRecommendations(ctx context.Context, tenant, assessmentID string, stored []byte, replace bool) error {
	return m.put(ctx, docKey("c", tenant, assessmentID), stored, replace)
}

func (m *Model) put(ctx context.Context, key string, b []byte, replace bool) error {
	var err error
	if replace {
		_, err = m.kv.Put(ctx, key, b)
	} else if _, err = m.kv.Create(ctx, key, b); conflict(err) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("readmodel: write %s: %w", key, err)
	}
	return nil
}

// EraseOutputs removes the copies of tenant's report and recommendations
// of id.
func (m *Model) EraseOutputs(ctx context.Context, tenant, id string) (int, error) {
	return m.purge(ctx, docKey("r", tenant, id), docKey("c", tenant, id))
}

// EraseAssessment removes tenant's assessment id from its list and its
// base's children, then its copy (so a retry that stopped in between still
// finds where it was listed), and any key of the layout before ADR 0048.
func (m *Model) EraseAssessment(ctx context.Context, tenant, id string) (int, error) {
	a, found, err := m.GetAssessment(ctx, tenant, id)
	if err != nil {
		return 0, fmt.Errorf("readmodel: read assessment %s: %w", id, err)
	}
	if found {
		p := posOf(a.CreatedAt, a.ID)
		if err := m.remove(ctx, tenant, p); err != nil {
			return 0, fmt.Errorf("readmodel: unlist assessment %s: %w", id, err)
		}
		if a.ParentID != "" && a.Kind != "" {
			if err := m.changeChild(ctx, tenant, a.ParentID, a.Kind, []pos{p}, false); err != nil {
				return 0, fmt.Errorf("readmodel: unlist %s %s of %s: %w", a.Kind, id, a.ParentID, err)
			}
		}
	}
	keys := []string{docKey("a", tenant, id)}
	d, dfound, err := m.readDirOnly(ctx, tenant)
	if err != nil {
		return 0, err
	}
	if dfound && d.Had {
		th, tok := tenantHash(tenant), idToken(id)
		for _, filter := range []string{"l." + th + ".*.*." + tok, "k." + th + ".*.*.*." + tok} {
			found, err := m.keys(ctx, filter)
			if err != nil {
				return 0, fmt.Errorf("readmodel: list keys of %s: %w", id, err)
			}
			keys = append(keys, found...)
		}
	}
	return m.purge(ctx, keys...)
}

// purge removes keys (their earlier revisions too) and counts those that held a value.
func (m *Model) purge(ctx context.Context, keys ...string) (int, error) {
	n := 0
	for _, k := range keys {
		if _, found, err := m.get(ctx, k); err != nil {
			return n, fmt.Errorf("readmodel: read %s: %w", k, err)
		} else if !found {
			continue
		}
		if err := m.kv.Purge(ctx, k); err != nil {
			return n, fmt.Errorf("readmodel: purge %s: %w", k, err)
		}
		n++
	}
	return n, nil
}

func webhooksKey(tenant string) string { return "w." + tenantHash(tenant) }

// WebhooksVersion returns the revision of the tenant's webhooks mark (0:
// never changed), which every change moves (store.WebhookVersions).
func (m *Model) WebhooksVersion(ctx context.Context, tenant string) (uint64, error) {
	e, found, err := m.get(ctx, webhooksKey(tenant))
	if err != nil || !found {
		return 0, err
	}
	return e.Revision(), nil
}

// WebhooksChanged moves the tenant's webhooks mark to a new revision.
func (m *Model) WebhooksChanged(ctx context.Context, tenant string) error {
	if _, err := m.kv.Put(ctx, webhooksKey(tenant), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("readmodel: mark the webhooks of a tenant changed: %w", err)
	}
	return nil
}

// Use opens the read model on js and makes st keep it and read from it.
// Every process that writes or reads assessments, reports or
// recommendations through st calls it, so the copy never misses a write.
func Use(ctx context.Context, js jetstream.JetStream, st *store.Store, log *slog.Logger) (*Model, error) {
	m, err := Open(ctx, js)
	if err != nil {
		return nil, err
	}
	st.UseReadModel(m, log)
	st.Webhooks.UseVersions(m)
	return m, nil
}

// backfilledKey marks that every assessment stored before the read model
// existed has been copied into it.
const backfilledKey = "meta.backfilled"

// Backfill copies every assessment, report and recommendations document
// of the document store into the read model, once per bucket: a deployment that stored assessments before the
// read model existed lists them afterwards. It reads the assessments
// collection once, in batches; copies merge (PutAssessment), so it may run
// beside the writers and in several processes. It reports how many it
// copied (0 when the bucket was backfilled before).
func (m *Model) Backfill(ctx context.Context, db *mongo.Database) (int, error) {
	if _, found, err := m.get(ctx, backfilledKey); err != nil || found {
		return 0, err
	}
	n := 0
	err := store.EachStored(ctx, db, func(a store.Assessment) error {
		if a.TenantID == "" || a.ID == "" {
			return nil
		}
		if err := m.PutAssessment(ctx, a); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("readmodel: backfill: %w", err)
	}
	// Reports and recommendations: a copy already made is final.
	if err := each(ctx, db.Collection(store.CollReports), func(raw bson.Raw) error {
		rep, err := store.UnmarshalReport(raw)
		if err != nil || rep.TenantID == "" || rep.AssessmentID == "" {
			return err
		}
		b, err := store.MarshalReport(rep)
		if err != nil {
			return fmt.Errorf("readmodel: backfill: %w", err)
		}
		return m.PutReport(ctx, rep.TenantID, rep.AssessmentID, b, false)
	}); err != nil {
		return n, err
	}
	if err := each(ctx, db.Collection(store.CollRecommendations), func(raw bson.Raw) error {
		rec, err := store.UnmarshalRecommendations(raw)
		if err != nil || rec.TenantID == "" || rec.AssessmentID == "" {
			return err
		}
		b, err := store.MarshalRecommendations(rec)
		if err != nil {
			return fmt.Errorf("readmodel: backfill: %w", err)
		}
		return m.PutRecommendations(ctx, rec.TenantID, rec.AssessmentID, b, false)
	}); err != nil {
		return n, err
	}
	if _, err := m.kv.Put(ctx, backfilledKey, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return n, fmt.Errorf("readmodel: backfill: mark done: %w", err)
	}
	return n, nil
}

// each calls fn with every document of coll, in batches.
func each(ctx context.Context, coll *mongo.Collection, fn func(bson.Raw) error) error {
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetBatchSize(100))
	if err != nil {
		return fmt.Errorf("readmodel: backfill %s: %w", coll.Name(), err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return fmt.Errorf("readmodel: backfill %s: %w", coll.Name(), err)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("readmodel: backfill %s: %w", coll.Name(), err)
	}
	return nil
}

// Complete says Backfill has run to its end on this bucket.
func (m *Model) Complete(ctx context.Context) (bool, error) {
	_, found, err := m.get(ctx, backfilledKey)
	return found, err
}

// BackfillTask runs Backfill and logs its outcome; it never fails, so a
// host may run it beside its other components. A stopped backfill is
// resumed from the start by the next one (copies merge).
func (m *Model) BackfillTask(db *mongo.Database, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		n, err := m.Backfill(ctx, db)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "read model backfill stopped; the next start resumes it", "copied", n, "error", err.Error())
		case err == nil && n > 0:
			log.InfoContext(ctx, "read model backfilled", "assessments", n)
		}
		return nil
	}
}

// Loader writes many documents into the read model without waiting for
// each write's acknowledgement, for bulk loads (the benchmark's preload of
// stored assessments). It writes documents as it is given them: no merge
// with an existing copy. List positions are added to the index a chunk's
// worth at a time. Flush waits for every write.
type Loader struct {
	m        *Model
	list     map[string][]pos
	children map[childrenOf][]pos
}

type childrenOf struct{ tenant, parent, kind string }

// NewLoader returns a bulk loader on m.
func (m *Model) NewLoader() *Loader {
	return &Loader{m: m, list: map[string][]pos{}, children: map[childrenOf][]pos{}}
}

func (l *Loader) publish(key string, b []byte) error {
	if _, err := l.m.js.PublishAsync("$KV."+bus.BucketReadModel+"."+key, b); err != nil {
		return fmt.Errorf("readmodel: load %s: %w", key, err)
	}
	return nil
}

// Assessment loads an assessment and lists it.
func (l *Loader) Assessment(ctx context.Context, a store.Assessment) error {
	p := posOf(a.CreatedAt, a.ID)
	l.list[a.TenantID] = append(l.list[a.TenantID], p)
	if len(l.list[a.TenantID]) >= chunkMax {
		if err := l.m.insert(ctx, a.TenantID, l.list[a.TenantID]...); err != nil {
			return err
		}
		l.list[a.TenantID] = nil
	}
	if a.ParentID != "" && a.Kind != "" {
		k := childrenOf{a.TenantID, a.ParentID, a.Kind}
		l.children[k] = append(l.children[k], p)
	}
	a.Key = store.AssessmentKey(a.TenantID, a.ID)
	return l.publishAssessment(a)
}

// publishAssessment writes the copy of a as it is.
func (l *Loader) publishAssessment(a store.Assessment) error {
	b, err := bson.Marshal(a)
	if err != nil {
		return fmt.Errorf("readmodel: encode assessment %s: %w", a.ID, err)
	}
	return l.publish(docKey("a", a.TenantID, a.ID), b)
}

// Report loads a report document as the store holds it (BSON).
func (l *Loader) Report(tenant, assessmentID string, stored []byte) error {
	return l.publish(docKey("r", tenant, assessmentID), stored)
}

// Recommendations loads a recommendations document as the store holds it (BSON).
func (l *Loader) Recommendations(tenant, assessmentID string, stored []byte) error {
	return l.publish(docKey("c", tenant, assessmentID), stored)
}

// Flush lists what is left to list and waits until every write is
// acknowledged.
func (l *Loader) Flush(ctx context.Context) error {
	for tenant, ps := range l.list {
		if err := l.m.insert(ctx, tenant, ps...); err != nil {
			return err
		}
	}
	clear(l.list)
	for k, ps := range l.children {
		if err := l.m.changeChild(ctx, k.tenant, k.parent, k.kind, ps, true); err != nil {
			return err
		}
	}
	clear(l.children)
	select {
	case <-l.m.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
