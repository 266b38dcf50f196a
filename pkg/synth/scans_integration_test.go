//go:build integration

package synth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
	"github.com/infra-mind/infra-mind/pkg/synth"
)

// tableStats is one table's row of pg_stat_user_tables.
type tableStats struct {
	SeqScan, SeqTupRead, IdxScan, Inserted int64
}

// ferretTable matches the tables FerretDB v1.24 creates for a collection:
// the collection's name and an eight-digit hash.
var ferretTable = regexp.MustCompile(`^(.+)_[0-9a-f]{8}$`)

// collectionStats reads PostgreSQL's per-table counters for the FerretDB
// database db (a PostgreSQL schema), keyed by collection name.
func collectionStats(ctx context.Context, t *testing.T, pg *pgx.Conn, db string) map[string]tableStats {
	t.Helper()
	// A fresh snapshot: within a transaction PostgreSQL would keep serving
	// the first one it read.
	_, err := pg.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
	require.NoError(t, err)
	rows, err := pg.Query(ctx, `SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_tup_ins
		FROM pg_stat_user_tables WHERE schemaname = $1`, db)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]tableStats{}
	for rows.Next() {
		var name string
		var s tableStats
		require.NoError(t, rows.Scan(&name, &s.SeqScan, &s.SeqTupRead, &s.IdxScan, &s.Inserted))
		if m := ferretTable.FindStringSubmatch(name); m != nil {
			out[m[1]] = s
		}
	}
	require.NoError(t, rows.Err())
	return out
}

// statsQuiet is how long the counters must stay unchanged before they are
// taken as complete: PostgreSQL 15 backends flush their counters when idle,
// after at most PGSTAT_IDLE_INTERVAL (10 s, src/backend/utils/activity/pgstat.c)
// when the shared counters are busy, and FerretDB spreads its statements over
// a pool of backends.
const statsQuiet = 11 * time.Second

// settledStats waits until FerretDB's PostgreSQL backends have reported
// their counters and they have stopped moving, and returns them.
// wantInserted is the number of assessments inserted so far, which the
// counters must show.
func settledStats(ctx context.Context, t *testing.T, pg *pgx.Conn, db string, wantInserted int64) map[string]tableStats {
	t.Helper()
	var last map[string]tableStats
	var since time.Time
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		cur := collectionStats(ctx, t, pg, db)
		switch {
		case fmt.Sprint(cur) != fmt.Sprint(last) || cur[store.CollAssessments].Inserted != wantInserted:
			since = time.Now()
		case time.Since(since) >= statsQuiet:
			return cur
		}
		last = cur
	}
	t.Fatalf("PostgreSQL's table counters did not settle: %v", last)
	return nil
}

// TestIntegrationHotPathScansOnPostgreSQL runs assessments through the
// synthesizer's hot path (an assessment created as the gateway creates it,
// then each family's result handled and its outputs published) against
// FerretDB on PostgreSQL, and reads from pg_stat_user_tables how PostgreSQL
// served the reads: a sequential scan reads the whole table, so its cost
// grows with every assessment ever stored.
func TestIntegrationHotPathScansOnPostgreSQL(t *testing.T) {
	natsURL, mongoURI, pgURL := os.Getenv("IM_TEST_NATS_URL"), os.Getenv("IM_TEST_MONGO_URI"), os.Getenv("IM_TEST_POSTGRES_URL")
	if natsURL == "" || mongoURI == "" || pgURL == "" {
		t.Fatal("IM_TEST_NATS_URL, IM_TEST_MONGO_URI and IM_TEST_POSTGRES_URL must be set (scripts/integration.sh sets them)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	db := fmt.Sprintf("synth_scans_%d", time.Now().UnixNano())
	b, err := bus.Connect(ctx, bus.Config{URL: natsURL, Name: "synth-scans-it"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	s, err := store.Connect(ctx, mongoURI, db)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = s.Database().Drop(cctx)
		_ = s.Close(cctx)
	})
	pg, err := pgx.Connect(ctx, pgURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close(context.Background()) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// As every service runs it (ADR 0030): reads by key come from the read model.
	_, err = readmodel.Use(ctx, b.JS, s, log)
	require.NoError(t, err)
	sy, err := synth.New(ctx, b, s, log, synth.Config{}, nil)
	require.NoError(t, err)

	tenant := fmt.Sprintf("scans%d", time.Now().UnixNano())
	created := int64(0)
	run := func(i int) {
		id := fmt.Sprintf("a%04d", i)
		fams := map[string]store.FamilyState{}
		for _, f := range assessment.Families() {
			fams[string(f)] = store.FamilyState{Status: store.FamilyPending}
		}
		require.NoError(t, s.Assessments.Create(ctx, store.Assessment{
			ID: id, TenantID: tenant, Name: "scan " + id, Status: string(assessment.StatusQueued),
			Families: fams, CorrelationID: id, Deadline: time.Now().Add(time.Hour),
		}))
		created++
		for _, f := range assessment.Families() {
			msgs, err := sy.Handle(ctx, resultEvent(t, tenant, id, f, id+"-"+string(f), 0))
			require.NoError(t, err)
			publishAll(t, b, msgs)
		}
	}

	// Stored data first, so that a scan has rows to read.
	const preload, measured = 40, 20
	for i := range preload {
		run(i)
	}
	before := settledStats(ctx, t, pg, db, created)
	for i := range measured {
		run(preload + i)
	}
	after := settledStats(ctx, t, pg, db, created)
	for i := range preload + measured {
		got, err := s.Assessments.Get(ctx, tenant, fmt.Sprintf("a%04d", i))
		require.NoError(t, err)
		require.Equal(t, string(assessment.StatusCompleted), got.Status, "assessment %d", i)
	}

	names := make([]string, 0, len(after))
	for n := range after {
		names = append(names, n)
	}
	sort.Strings(names)
	var table strings.Builder
	fmt.Fprintf(&table, "per assessment, over %d assessments after %d stored:\n%-26s %9s %12s %9s\n", measured, preload, "collection", "seq scans", "rows scanned", "idx scans")
	for _, n := range names {
		d := after[n]
		d.SeqScan -= before[n].SeqScan
		d.SeqTupRead -= before[n].SeqTupRead
		d.IdxScan -= before[n].IdxScan
		fmt.Fprintf(&table, "%-26s %9.1f %12.1f %9.1f\n", n,
			float64(d.SeqScan)/measured, float64(d.SeqTupRead)/measured, float64(d.IdxScan)/measured)
	}
	t.Log(table.String())

	delta := func(coll string) tableStats {
		return tableStats{
			SeqScan:  after[coll].SeqScan - before[coll].SeqScan,
			IdxScan:  after[coll].IdxScan - before[coll].IdxScan,
			Inserted: after[coll].Inserted - before[coll].Inserted,
		}
	}
	// Nothing on the hot path reads a table: the assessment is read by key
	// from the read model (at its first result and at the close), and every
	// write is an insert, which PostgreSQL checks against the primary key's
	// index alone. The close was a findAndModify by _id, which FerretDB
	// v1.24.2 runs as a SELECT with `_jsonb->'_id' @> $2`, a sequential scan
	// of every assessment stored; it is now the insert of a close record
	// (ADR 0040). Before it, with the read model: 1.0 sequential scan per
	// assessment; before the read model, 2.0 (ADR 0029); before the pipeline
	// state, 7.0 (ADR 0021).
	for coll, st := range after {
		require.Zero(t, st.SeqScan-before[coll].SeqScan, "sequential scans of %s while running assessments", coll)
	}
	require.EqualValues(t, measured, delta(store.CollAssessments).Inserted)
	require.EqualValues(t, measured, delta(store.CollFinishes).Inserted, "one close record per assessment")
	// The report and the recommendations are written once each, as inserts.
	require.EqualValues(t, measured, delta(store.CollReports).Inserted)
	require.EqualValues(t, measured, delta(store.CollRecommendations).Inserted)
}
