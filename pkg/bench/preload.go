package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// preloadBatch is how many documents one InsertMany carries.
const preloadBatch = 1000

// preloader stores copies of one finished assessment (every document the
// pipeline wrote for it: the assessment, the report, the recommendations,
// ...) under new assessment ids, in bulk, straight into the store's
// collections and into the read model (package readmodel) the services
// read them from, as the services would have written them.
type preloader struct {
	mc    *mongo.Client
	db    *mongo.Database
	nc    *nats.Conn
	views *readmodel.Loader
	// viewErrs counts read model writes the broker refused.
	viewErrs atomic.Int64
	tenant   string
	// closed is the template assessment as people read it: its document
	// with its close laid over (ADR 0040), which the copies' read model
	// entries take their outcome from.
	closed store.Assessment
	docs   []templateDoc
	stored int
	// Notes say which documents could not be keyed like the original.
	Notes []string
}

// templateDoc is one stored document of the template assessment.
type templateDoc struct {
	coll string
	doc  bson.D
	// id makes the copy's _id for a new assessment id.
	id func(newID string) any
}

// newPreloader reads the documents the pipeline stored for templateID of
// tenant, from every collection.
func newPreloader(ctx context.Context, natsURL, uri, database, tenant, templateID string) (*preloader, error) {
	mc, err := mongo.Connect(options.Client().ApplyURI(uri).SetAppName("infra-mind-bench"))
	if err != nil {
		return nil, err
	}
	p := &preloader{mc: mc, db: mc.Database(database), tenant: tenant}
	if p.nc, err = nats.Connect(natsURL, nats.Name("infra-mind-bench-preload")); err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(p.nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { p.viewErrs.Add(1) }))
	if err != nil {
		p.close(ctx)
		return nil, err
	}
	rm, err := readmodel.Open(ctx, js)
	if err != nil {
		p.close(ctx)
		return nil, err
	}
	p.views = rm.NewLoader()
	closed, found, err := rm.GetAssessment(ctx, tenant, templateID)
	if err != nil || !found {
		p.close(ctx)
		return nil, fmt.Errorf("read the template assessment %s from the read model (found %t): %w", templateID, found, err)
	}
	p.closed = closed
	names, err := p.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("list collections: %w", err)
	}
	for _, name := range names {
		if name == baselineColl || strings.HasPrefix(name, "system.") {
			continue
		}
		cur, err := p.db.Collection(name).Find(ctx, bson.D{{Key: "tenant_id", Value: tenant}, {Key: "assessment_id", Value: templateID}})
		if err != nil {
			p.close(ctx)
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		var docs []bson.D
		if err := cur.All(ctx, &docs); err != nil {
			p.close(ctx)
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		for _, d := range docs {
			td := templateDoc{coll: name, doc: d}
			td.id, err = p.keyer(name, d, templateID)
			if err != nil {
				p.close(ctx)
				return nil, err
			}
			p.docs = append(p.docs, td)
		}
	}
	if len(p.docs) == 0 {
		p.close(ctx)
		return nil, fmt.Errorf("no stored document of assessment %s of tenant %s", templateID, tenant)
	}
	return p, nil
}

// idSuffixes are the last parts of the store's deterministic ids
// (assessment.DeterministicID(tenant, assessment, suffix)).
func idSuffixes() []string {
	s := []string{"finish", "announce", "recommendations", "report"}
	for _, f := range assessment.Families() {
		s = append(s, string(f))
	}
	return s
}

// keyer finds how the template document's _id derives from its tenant and
// assessment id, so each copy gets the _id the store would give it.
func (p *preloader) keyer(coll string, d bson.D, templateID string) (func(string) any, error) {
	var id any
	for _, e := range d {
		if e.Key == "_id" {
			id = e.Value
		}
	}
	s, ok := id.(string)
	if !ok {
		return nil, fmt.Errorf("%s: _id %v is not a string", coll, id)
	}
	if strings.Contains(s, templateID) {
		return func(n string) any { return strings.ReplaceAll(s, templateID, n) }, nil
	}
	if s == assessment.DeterministicID(p.tenant, templateID) {
		return func(n string) any { return assessment.DeterministicID(p.tenant, n) }, nil
	}
	for _, suffix := range idSuffixes() {
		if s == assessment.DeterministicID(p.tenant, templateID, suffix) {
			return func(n string) any { return assessment.DeterministicID(p.tenant, n, suffix) }, nil
		}
	}
	p.Notes = append(p.Notes, fmt.Sprintf("%s: _id %s is not derived from a known key; copies get random ids", coll, s))
	return func(string) any { return uuid.NewString() }, nil
}

// clone is the template document for newID: its _id, and every short
// string field that names the template assessment, rewritten.
// With limit above 0, longer strings and binary values are cut to limit bytes.
func (t templateDoc) clone(templateID, newID string, limit int) bson.D {
	out := make(bson.D, 0, len(t.doc))
	for _, e := range t.doc {
		// Binary fields (the report's compressed body, ADR 0030) are cut too: a
		// cut body no longer expands, and nothing reads the copies' reports.
		if v, ok := e.Value.(bson.Binary); ok && limit > 0 && len(v.Data) > limit {
			v.Data = v.Data[:limit]
			e.Value = v
		}
		if v, ok := e.Value.(string); ok {
			switch {
			case e.Key == "_id":
				e.Value = t.id(newID)
			case len(v) < 256 && strings.Contains(v, templateID):
				e.Value = strings.ReplaceAll(v, templateID, newID)
			case limit > 0 && len(v) > limit:
				e.Value = v[:limit]
			}
		}
		out = append(out, e)
	}
	return out
}

// templateAssessmentID is the template's assessment id, read back from its documents.
func (p *preloader) templateAssessmentID() string {
	for _, e := range p.docs[0].doc {
		if e.Key == "assessment_id" {
			if s, ok := e.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// PreloadResult is a preload level: how it was stored and the latency after it.
type PreloadResult struct {
	Stored  int
	Added   int
	Docs    int
	LoadFor time.Duration
	Latency Latency
}

// load stores n more copies, two collections' batches at a time, and
// returns how many documents it wrote.
func (p *preloader) load(ctx context.Context, n, fieldLimit int, log io.Writer) (int, error) {
	tid := p.templateAssessmentID()
	type batch struct {
		coll string
		docs []any
	}
	batches := make(chan batch)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	written := 0
	for range 2 {
		wg.Go(func() {
			for b := range batches {
				_, err := p.db.Collection(b.coll).InsertMany(ctx, b.docs, options.InsertMany().SetOrdered(false))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("insert into %s: %w", b.coll, err)
				}
				written += len(b.docs)
				mu.Unlock()
			}
		})
	}
	pending := map[string][]any{}
	start := time.Now()
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		newID := fmt.Sprintf("preload-%s-%07d", tid[:min(8, len(tid))], p.stored+i)
		for _, t := range p.docs {
			doc := t.clone(tid, newID, fieldLimit)
			if err := p.view(ctx, t.coll, newID, doc); err != nil {
				close(batches)
				wg.Wait()
				return written, err
			}
			pending[t.coll] = append(pending[t.coll], doc)
			if len(pending[t.coll]) >= preloadBatch {
				batches <- batch{coll: t.coll, docs: pending[t.coll]}
				pending[t.coll] = nil
			}
		}
		if (i+1)%10000 == 0 {
			logf(log, "  preloaded %d of %d assessments (%s)", i+1, n, time.Since(start).Round(time.Second))
		}
	}
	for coll, docs := range pending {
		if len(docs) > 0 {
			batches <- batch{coll: coll, docs: docs}
		}
	}
	close(batches)
	wg.Wait()
	if firstErr != nil {
		return written, firstErr
	}
	if err := p.views.Flush(ctx); err != nil {
		return written, fmt.Errorf("read model: %w", err)
	}
	if n := p.viewErrs.Load(); n > 0 {
		return written, fmt.Errorf("read model: the broker refused %d writes", n)
	}
	p.stored += n
	return written, ctx.Err()
}

// view writes a copy's read model entry: the assessment with its list
// key, the report and the recommendations, as the store's repositories
// would have.
func (p *preloader) view(ctx context.Context, coll, id string, doc bson.D) error {
	switch coll {
	case store.CollAssessments:
		b, err := bson.Marshal(doc)
		if err != nil {
			return err
		}
		var a store.Assessment
		if err := bson.Unmarshal(b, &a); err != nil {
			return fmt.Errorf("decode the copied assessment: %w", err)
		}
		a.Status, a.CompletedAt, a.UpdatedAt = p.closed.Status, p.closed.CompletedAt, p.closed.UpdatedAt
		a.MissingFamilies, a.Reason, a.Families = p.closed.MissingFamilies, p.closed.Reason, p.closed.Families
		return p.views.Assessment(ctx, a)
	case store.CollReports, store.CollRecommendations:
		b, err := bson.Marshal(doc)
		if err != nil {
			return err
		}
		if coll == store.CollReports {
			return p.views.Report(p.tenant, id, b)
		}
		return p.views.Recommendations(p.tenant, id, b)
	}
	return nil
}

func (p *preloader) close(ctx context.Context) {
	if p.nc != nil {
		p.nc.Close()
	}
	_ = p.mc.Disconnect(context.WithoutCancel(ctx))
}
