package readmodel

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// counting is the bucket with a count of what a reader touches: keys read
// by key and keys delivered by a key listing.
type counting struct {
	jetstream.KeyValue
	gets, listed atomic.Int64
}

func (c *counting) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	c.gets.Add(1)
	return c.KeyValue.Get(ctx, key)
}

func (c *counting) ListKeysFiltered(ctx context.Context, filters ...string) (jetstream.KeyLister, error) {
	l, err := c.KeyValue.ListKeysFiltered(ctx, filters...)
	if err != nil {
		return nil, err
	}
	out := make(chan string)
	go func() {
		defer close(out)
		for k := range l.Keys() {
			c.listed.Add(1)
			out <- k
		}
	}()
	return countedLister{KeyLister: l, keys: out}, nil
}

type countedLister struct {
	jetstream.KeyLister
	keys chan string
}

func (l countedLister) Keys() <-chan string { return l.keys }

func (c *counting) reset() { c.gets.Store(0); c.listed.Store(0) }

// newModel opens the read model on a broker of its own.
func newModel(t *testing.T) (*Model, *counting) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir(), SkipMongo: true, SkipRedis: true})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	bs, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "readmodel-index-test", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bs.Close() })
	m, err := Open(ctx, bs.JS)
	require.NoError(t, err)
	c := &counting{KeyValue: m.kv}
	m.kv = c
	return m, c
}

// pageAll pages through the tenant's list limit at a time.
func pageAll(ctx context.Context, t *testing.T, m *Model, tenant string, limit int) []store.ListPosition {
	t.Helper()
	var out []store.ListPosition
	var before *store.ListPosition
	for {
		got, err := m.ListAssessments(ctx, tenant, before, limit)
		require.NoError(t, err)
		out = append(out, got...)
		if len(got) < limit {
			return out
		}
		last := got[len(got)-1]
		before = &last
	}
}

func ids(ps []store.ListPosition) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// newestFirstIDs sorts as the list does: newest first by (created_at, id).
func newestFirstIDs(as []store.Assessment) []string {
	s := slices.Clone(as)
	slices.SortFunc(s, func(x, y store.Assessment) int {
		return cmpPos(posOf(y.CreatedAt, y.ID), posOf(x.CreatedAt, x.ID))
	})
	out := make([]string, len(s))
	for i, a := range s {
		out[i] = a.ID
	}
	return out
}

// TestListPageReadsOnlyWhatItShows: a page of 20 of a tenant with 1,000
// assessments created within one hour reads a handful of keys by key and
// lists none; the layout before read every key of the hour.
func TestListPageReadsOnlyWhatItShows(t *testing.T) {
	m, c := newModel(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for i := range 1000 {
		require.NoError(t, m.PutAssessment(ctx, store.Assessment{ID: fmt.Sprintf("a%04d", i), TenantID: "acme", CreatedAt: t0.Add(time.Duration(i) * time.Second)}))
	}
	c.reset()
	got, err := m.ListAssessments(ctx, "acme", nil, 21)
	require.NoError(t, err)
	require.Len(t, got, 21)
	require.Equal(t, "a0999", got[0].ID)
	require.LessOrEqual(t, c.gets.Load()+c.listed.Load(), int64(4), "a first page reads the directory and one or two chunks")
	c.reset()
	got, err = m.ListAssessments(ctx, "acme", &got[20], 21)
	require.NoError(t, err)
	require.Equal(t, "a0978", got[0].ID, "the one after the cursor a0979")
	require.LessOrEqual(t, c.gets.Load()+c.listed.Load(), int64(4), "so does a page from a cursor")
}

// TestListPagesEveryAssessmentOnceWhileWritersSplit: writers add
// assessments to one tenant in any time order, splitting chunks, while
// readers page; every pass is in list order with no repeat and holds every
// assessment written before it began, and the last pass holds them all.
func TestListPagesEveryAssessmentOnceWhileWritersSplit(t *testing.T) {
	m, _ := newModel(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	const writers, each = 6, 150
	var (
		mu      sync.Mutex
		written []store.Assessment
	)
	g, gctx := errgroup.WithContext(ctx)
	for w := range writers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range each {
				// Many share a millisecond: the id orders them.
				a := store.Assessment{ID: fmt.Sprintf("w%d-%03d", w, i), TenantID: "acme", CreatedAt: t0.Add(time.Duration(rng.IntN(400)) * time.Second)}
				if err := m.PutAssessment(gctx, a); err != nil {
					return err
				}
				mu.Lock()
				written = append(written, a)
				mu.Unlock()
			}
			return nil
		})
	}
	done := make(chan struct{})
	var readers errgroup.Group
	for r := range 2 {
		readers.Go(func() error {
			for {
				select {
				case <-done:
					return nil
				default:
				}
				mu.Lock()
				before := slices.Clone(written)
				mu.Unlock()
				got := ids(pageAll(ctx, t, m, "acme", 7+r*13))
				seen := map[string]bool{}
				for _, id := range got {
					if seen[id] {
						return fmt.Errorf("%s listed twice in one pass", id)
					}
					seen[id] = true
				}
				for _, a := range before {
					if !seen[a.ID] {
						return fmt.Errorf("%s, written before the pass, was skipped", a.ID)
					}
				}
			}
		})
	}
	require.NoError(t, g.Wait())
	close(done)
	require.NoError(t, readers.Wait())
	require.Equal(t, newestFirstIDs(written), ids(pageAll(ctx, t, m, "acme", 20)))
	d, found, err := m.readDirOnly(ctx, "acme")
	require.NoError(t, err)
	require.True(t, found)
	require.Greater(t, len(d.From), 3, "the list was split into chunks")
}

// TestSplitLeftHalfDoneIsFinishedByTheNextWriter: a split that stopped
// after any of its steps lists every assessment once, and the next write
// finishes it.
func TestSplitLeftHalfDoneIsFinishedByTheNextWriter(t *testing.T) {
	for _, stop := range []string{"sealed", "half created", "directory updated"} {
		t.Run(stop, func(t *testing.T) {
			m, _ := newModel(t)
			ctx := t.Context()
			t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
			var all []store.Assessment
			for i := range chunkMax {
				a := store.Assessment{ID: fmt.Sprintf("a%04d", i), TenantID: "acme", CreatedAt: t0.Add(time.Duration(i) * time.Second)}
				require.NoError(t, m.PutAssessment(ctx, a))
				all = append(all, a)
			}
			// The steps of finishSplit, by hand, up to stop.
			c, rev, found, err := m.readChunk(ctx, "acme", lowest)
			require.NoError(t, err)
			require.True(t, found)
			c.Sealed = true
			_, err = m.updateJSONRev(ctx, chunkKey("acme", lowest), c, rev)
			require.NoError(t, err)
			mid := c.Items[len(c.Items)/2-1]
			if stop != "sealed" {
				require.NoError(t, m.createJSON(ctx, chunkKey("acme", mid), chunk{From: mid, Items: slices.Clone(c.Items[:len(c.Items)/2])}))
			}
			if stop == "directory updated" {
				d, drev, _, err := m.readDir(ctx, "acme")
				require.NoError(t, err)
				d.From = append([]pos{mid}, d.From...)
				require.NoError(t, m.updateJSON(ctx, dirKey("acme"), d, drev))
			}
			require.Equal(t, newestFirstIDs(all), ids(pageAll(ctx, t, m, "acme", 10)))

			late := store.Assessment{ID: "late", TenantID: "acme", CreatedAt: t0.Add(-time.Hour)}
			require.NoError(t, m.PutAssessment(ctx, late))
			all = append(all, late)
			require.Equal(t, newestFirstIDs(all), ids(pageAll(ctx, t, m, "acme", 10)))
			d, _, _, err := m.readDir(ctx, "acme")
			require.NoError(t, err)
			require.Equal(t, []pos{mid, lowest}, d.From)
			c, _, _, err = m.readChunk(ctx, "acme", lowest)
			require.NoError(t, err)
			require.False(t, c.Sealed)
			require.Equal(t, &mid, c.To)
		})
	}
}

// TestTenantsNeverShareKeys: two tenants with the same ids list and see
// only their own, and every key a tenant's writes make carries its hash.
func TestTenantsNeverShareKeys(t *testing.T) {
	m, _ := newModel(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for i := range chunkMax + 10 {
		for _, tenant := range []string{"acme", "globex"} {
			a := store.Assessment{ID: fmt.Sprintf("a%04d", i), TenantID: tenant, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			if tenant == "globex" {
				a.CreatedAt = a.CreatedAt.Add(time.Hour)
			}
			if i > 0 && i < 4 {
				a.ParentID, a.Kind = "a0000", store.KindVersion
			}
			require.NoError(t, m.PutAssessment(ctx, a))
		}
	}
	acme := pageAll(ctx, t, m, "acme", 50)
	require.Len(t, acme, chunkMax+10)
	for _, p := range acme {
		require.True(t, p.At.Before(t0.Add(time.Hour)), "acme lists only its own (globex's are an hour later)")
	}
	kids, err := m.Children(ctx, "acme", "a0000", store.KindVersion)
	require.NoError(t, err)
	require.Len(t, kids, 3)
	for _, p := range kids {
		require.True(t, p.At.Before(t0.Add(time.Hour)))
	}
	none, err := m.ListAssessments(ctx, "initech", nil, 20)
	require.NoError(t, err)
	require.Empty(t, none)

	keys, err := m.keys(ctx, ">")
	require.NoError(t, err)
	own := map[string]int{}
	for _, k := range keys {
		parts := strings.Split(k, ".")
		require.GreaterOrEqual(t, len(parts), 2, k)
		switch parts[1] {
		case tenantHash("acme"):
			own["acme"]++
		case tenantHash("globex"):
			own["globex"]++
		default:
			t.Fatalf("key %s belongs to no tenant", k)
		}
	}
	require.Equal(t, own["acme"], own["globex"], "the same writes make the same number of keys, each under its tenant")
}

// TestLegacyHourListsAreCopiedIntoTheIndex: a tenant listed in the layout
// before ADR 0048 lists the same after the change, with new assessments
// among them, and erasing one removes its old keys too.
func TestLegacyHourListsAreCopiedIntoTheIndex(t *testing.T) {
	m, _ := newModel(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var old []store.Assessment
	for i := range 300 {
		a := store.Assessment{ID: fmt.Sprintf("o%04d", i), TenantID: "acme", CreatedAt: t0.Add(time.Duration(i) * 30 * time.Second)}
		if i > 0 && i < 3 {
			a.ParentID, a.Kind = "o0000", store.KindScenario
		}
		old = append(old, a)
	}
	require.NoError(t, loadHours(ctx, m, old))

	kids, err := m.Children(ctx, "acme", "o0000", store.KindScenario)
	require.NoError(t, err)
	require.Equal(t, []string{"o0001", "o0002"}, ids(kids))
	fresh := store.Assessment{ID: "new", TenantID: "acme", CreatedAt: t0.Add(time.Minute + time.Millisecond)}
	require.NoError(t, m.PutAssessment(ctx, fresh))
	all := append(slices.Clone(old), fresh)
	require.Equal(t, newestFirstIDs(all), ids(pageAll(ctx, t, m, "acme", 25)))
	d, found, err := m.readDirOnly(ctx, "acme")
	require.NoError(t, err)
	require.True(t, found)
	require.False(t, d.Legacy)
	require.True(t, d.Had)

	_, err = m.EraseAssessment(ctx, "acme", "o0001")
	require.NoError(t, err)
	kids, err = m.Children(ctx, "acme", "o0000", store.KindScenario)
	require.NoError(t, err)
	require.Equal(t, []string{"o0002"}, ids(kids))
	left, err := m.keys(ctx, "*."+tenantHash("acme")+".>")
	require.NoError(t, err)
	for _, k := range left {
		require.NotContains(t, k, idToken("o0001"), "no key of an erased assessment is left")
	}
	require.NotContains(t, ids(pageAll(ctx, t, m, "acme", 25)), "o0001")
}

// TestAReaderOfADirectoryOlderThanASplitReadsAgain: a page read with the
// directory of before a split, of chunks of after it, would miss the
// newer half; the reader sees that the chunk is narrower than its
// directory says and starts again.
func TestAReaderOfADirectoryOlderThanASplitReadsAgain(t *testing.T) {
	m, _ := newModel(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var all []store.Assessment
	put := func(i int) {
		a := store.Assessment{ID: fmt.Sprintf("a%04d", i), TenantID: "acme", CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		require.NoError(t, m.PutAssessment(ctx, a))
		all = append(all, a)
	}
	for i := range chunkMax {
		put(i)
	}
	before, _, _, err := m.readDir(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, before.From, 1)
	put(chunkMax) // splits
	_, stale, err := m.walk(ctx, "acme", before, nil, 1000)
	require.NoError(t, err)
	require.True(t, stale, "the only chunk the old directory names now holds only the older half")
	got, err := m.page(ctx, "acme", nil, 1000)
	require.NoError(t, err)
	require.Len(t, got, chunkMax+1)
	require.Equal(t, newestFirstIDs(all)[0], got[0].id)
}
