//go:build integration

package readmodel_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// ferretTable matches the tables FerretDB v1.24 creates for a collection.
var ferretTable = regexp.MustCompile(`^(.+)_[0-9a-f]{8}$`)

type tableStats struct{ SeqScan, SeqTupRead, IdxScan int64 }

func collectionStats(ctx context.Context, t *testing.T, pg *pgx.Conn, db string) map[string]tableStats {
	t.Helper()
	_, err := pg.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
	require.NoError(t, err)
	rows, err := pg.Query(ctx, `SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0)
		FROM pg_stat_user_tables WHERE schemaname = $1`, db)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]tableStats{}
	for rows.Next() {
		var name string
		var s tableStats
		require.NoError(t, rows.Scan(&name, &s.SeqScan, &s.SeqTupRead, &s.IdxScan))
		if m := ferretTable.FindStringSubmatch(name); m != nil {
			out[m[1]] = s
		}
	}
	require.NoError(t, rows.Err())
	return out
}

// settled waits until PostgreSQL's counters stop moving: backends flush
// them when idle, after at most 10 s (PGSTAT_IDLE_INTERVAL).
func settled(ctx context.Context, t *testing.T, pg *pgx.Conn, db string) map[string]tableStats {
	t.Helper()
	var last map[string]tableStats
	since := time.Now()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		cur := collectionStats(ctx, t, pg, db)
		if fmt.Sprint(cur) != fmt.Sprint(last) {
			since = time.Now()
		} else if time.Since(since) >= 11*time.Second {
			return cur
		}
		last = cur
	}
	t.Fatalf("PostgreSQL's table counters did not settle")
	return nil
}

// reportBody is a report-shaped JSON body of about 300 KB: metrics that
// repeat their sources, as the families' sections do.
func reportBody(id string) string {
	var b strings.Builder
	b.WriteString(`{"assessment_id":"` + id + `","families":[`)
	for i := range 1200 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"metric %d","value":%d.5,"unit":"USD/month","formula":"hours x rate x %d",`+
			`"source":"Provider price list, on-demand, region us-east-1, as of 2026-11-27 (catalogue v%d)"}`, i, i*7, i%13, i%5)
	}
	b.WriteString(`]}`)
	return b.String()
}

// storeOne stores assessment i with its report and recommendations: every
// fourth is tenant's (ours reports its id), the others belong to other
// tenants, and every hundredth of tenant's is a version of a000000.
func storeOne(ctx context.Context, s *store.Store, tenant string, t0 time.Time, i int, ours func(string)) error {
	owner := tenant
	if i%4 != 0 {
		owner = tenant + "-other-" + strconv.Itoa(i%7)
	}
	id := fmt.Sprintf("a%06d", i)
	a := store.Assessment{ID: id, TenantID: owner, Name: "stored " + id, Status: string(assessment.StatusCompleted),
		Request: `{"name":"stored"}`, Families: map[string]store.FamilyState{}, CorrelationID: id,
		CreatedAt: t0.Add(time.Duration(i) * time.Second), Deadline: t0.Add(time.Hour)}
	if i%100 == 4 {
		a.ParentID, a.Kind, a.Version = "a000000", store.KindVersion, i
	}
	if err := s.Assessments.Create(ctx, a); err != nil {
		return err
	}
	if err := s.Reports.Create(ctx, store.Report{TenantID: owner, AssessmentID: id, Status: a.Status, Body: reportBody(id)}); err != nil {
		return err
	}
	if err := s.Recommendations.Create(ctx, store.Recommendations{TenantID: owner, AssessmentID: id, Status: a.Status}); err != nil {
		return err
	}
	if owner == tenant {
		ours(id)
	}
	return nil
}

// TestIntegrationReadShapesOnPostgreSQL stores assessments with their
// reports and recommendations on FerretDB v1.24.2 on PostgreSQL, then runs
// every read people make (an assessment, its report, its recommendations,
// the first and a later page of the tenant's list, an assessment's
// versions) through the store without and with the read model, and reads
// from pg_stat_user_tables how PostgreSQL served them. IM_READ_SCAN_STORED
// sets how many assessments are stored (default 2,000).
func TestIntegrationReadShapesOnPostgreSQL(t *testing.T) {
	natsURL, mongoURI, pgURL := os.Getenv("IM_TEST_NATS_URL"), os.Getenv("IM_TEST_MONGO_URI"), os.Getenv("IM_TEST_POSTGRES_URL")
	if natsURL == "" || mongoURI == "" || pgURL == "" {
		t.Fatal("IM_TEST_NATS_URL, IM_TEST_MONGO_URI and IM_TEST_POSTGRES_URL must be set (scripts/integration.sh sets them)")
	}
	stored := 2000
	if v := os.Getenv("IM_READ_SCAN_STORED"); v != "" {
		var err error
		stored, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	db := fmt.Sprintf("read_scans_%d", time.Now().UnixNano())
	b, err := bus.Connect(ctx, bus.Config{URL: natsURL, Name: "read-scans-it"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	plain, err := store.Connect(ctx, mongoURI, db)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_ = plain.Database().Drop(cctx)
		_ = plain.Close(cctx)
	})
	viewed, err := store.Connect(ctx, mongoURI, db)
	require.NoError(t, err)
	t.Cleanup(func() { _ = viewed.Close(context.Background()) })
	rm, err := readmodel.Use(ctx, b.JS, viewed, nil)
	require.NoError(t, err)
	pg, err := pgx.Connect(ctx, pgURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close(context.Background()) })

	// The tenant measured, and others' assessments around it: the read
	// model must not read them, the store's scans do.
	tenant := fmt.Sprintf("reads%d", time.Now().UnixNano())
	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Duration(stored) * time.Second)
	start := time.Now()
	var ids []string
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range stored {
		g.Go(func() error {
			return storeOne(gctx, viewed, tenant, t0, i, func(id string) { mu.Lock(); ids = append(ids, id); mu.Unlock() })
		})
	}
	require.NoError(t, g.Wait())
	slices.Sort(ids)
	t.Logf("stored %d assessments with reports and recommendations in %s", stored, time.Since(start).Round(time.Second))
	_, err = rm.Backfill(ctx, viewed.Database())
	require.NoError(t, err)

	const reps = 20
	pick := func(i int) string { return ids[(i*37)%len(ids)] }
	page1, err := plain.Assessments.List(ctx, tenant, store.ListOptions{Limit: 20})
	require.NoError(t, err)
	shapes := []struct {
		name string
		run  func(s *store.Store, i int) error
	}{
		{"get assessment", func(s *store.Store, i int) error { _, err := s.Assessments.Get(ctx, tenant, pick(i)); return err }},
		{"get report", func(s *store.Store, i int) error { _, err := s.Reports.Get(ctx, tenant, pick(i)); return err }},
		{"get recommendations", func(s *store.Store, i int) error {
			_, err := s.Recommendations.Get(ctx, tenant, pick(i))
			return err
		}},
		{"list, first page of 20", func(s *store.Store, _ int) error {
			p, err := s.Assessments.List(ctx, tenant, store.ListOptions{Limit: 20})
			if err == nil && len(p.Items) != 20 {
				err = fmt.Errorf("%d items", len(p.Items))
			}
			return err
		}},
		{"list, second page of 20", func(s *store.Store, _ int) error {
			p, err := s.Assessments.List(ctx, tenant, store.ListOptions{Limit: 20, Cursor: page1.NextCursor})
			if err == nil && len(p.Items) != 20 {
				err = fmt.Errorf("%d items", len(p.Items))
			}
			return err
		}},
		{"versions of an assessment", func(s *store.Store, _ int) error {
			_, err := s.Assessments.Children(ctx, tenant, "a000000", store.KindVersion)
			return err
		}},
		{"another tenant's assessment", func(s *store.Store, i int) error {
			_, err := s.Assessments.Get(ctx, tenant+"-intruder", pick(i))
			if err == nil {
				return fmt.Errorf("read across tenants")
			}
			return nil
		}},
	}
	// Both stores answer the same.
	for i := range 5 {
		for _, id := range []string{pick(i)} {
			x, err := plain.Assessments.Get(ctx, tenant, id)
			require.NoError(t, err)
			y, err := viewed.Assessments.Get(ctx, tenant, id)
			require.NoError(t, err)
			require.Equal(t, x, y)
			rx, err := plain.Reports.Get(ctx, tenant, id)
			require.NoError(t, err)
			ry, err := viewed.Reports.Get(ctx, tenant, id)
			require.NoError(t, err)
			require.Equal(t, rx, ry)
		}
	}
	for _, cursor := range []string{"", page1.NextCursor} {
		x, err := plain.Assessments.List(ctx, tenant, store.ListOptions{Limit: 20, Cursor: cursor})
		require.NoError(t, err)
		y, err := viewed.Assessments.List(ctx, tenant, store.ListOptions{Limit: 20, Cursor: cursor})
		require.NoError(t, err)
		require.Equal(t, x, y)
	}
	xc, err := plain.Assessments.Children(ctx, tenant, "a000000", store.KindVersion)
	require.NoError(t, err)
	yc, err := viewed.Assessments.Children(ctx, tenant, "a000000", store.KindVersion)
	require.NoError(t, err)
	require.Equal(t, xc, yc)
	require.NotEmpty(t, xc)

	var table strings.Builder
	fmt.Fprintf(&table, "%d assessments stored (%d of the tenant's); per read, over %d reads:\n", stored, len(ids), reps)
	fmt.Fprintf(&table, "| read | store | seq scans | rows scanned | idx scans | p50 |\n|---|---|---|---|---|---|\n")
	before := settled(ctx, t, pg, db)
	for _, sh := range shapes {
		for _, mode := range []struct {
			name string
			s    *store.Store
		}{{"document store", plain}, {"read model", viewed}} {
			var took []time.Duration
			for i := range reps {
				st := time.Now()
				require.NoError(t, sh.run(mode.s, i), "%s on %s", sh.name, mode.name)
				took = append(took, time.Since(st))
			}
			after := settled(ctx, t, pg, db)
			var d tableStats
			for coll, a := range after {
				d.SeqScan += a.SeqScan - before[coll].SeqScan
				d.SeqTupRead += a.SeqTupRead - before[coll].SeqTupRead
				d.IdxScan += a.IdxScan - before[coll].IdxScan
			}
			slices.Sort(took)
			fmt.Fprintf(&table, "| %s | %s | %.1f | %.0f | %.1f | %.2f ms |\n", sh.name, mode.name,
				float64(d.SeqScan)/reps, float64(d.SeqTupRead)/reps, float64(d.IdxScan)/reps,
				float64(took[len(took)/2].Microseconds())/1000)
			before = after
			if mode.name == "read model" {
				require.Zero(t, d.SeqScan, "%s through the read model scans a table", sh.name)
			}
		}
	}
	t.Log("\n" + table.String())
}
