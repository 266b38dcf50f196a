//go:build integration

package compose_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/platform/compose"
)

// tableReads is one table's read counters in pg_stat_user_tables.
type tableReads struct{ SeqScan, IdxScan int64 }

// ferretTable matches the tables FerretDB v1.24 creates for a collection:
// the collection's name and an eight-digit hash.
var ferretTable = regexp.MustCompile(`^(.+)_[0-9a-f]{8}$`)

// pgStatFlush is how long PostgreSQL 15 may keep a backend's table counters
// before reporting them: an idle backend flushes after PGSTAT_IDLE_INTERVAL
// (10 s, src/backend/utils/activity/pgstat.c).
const pgStatFlush = 11 * time.Second

// readCounters returns PostgreSQL's read counters of every table of the
// FerretDB database db (a PostgreSQL schema), by collection.
func readCounters(ctx context.Context, t *testing.T, pg *pgx.Conn, db string) map[string]tableReads {
	t.Helper()
	_, err := pg.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
	require.NoError(t, err)
	rows, err := pg.Query(ctx, `SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE schemaname = $1`, db)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]tableReads{}
	for rows.Next() {
		var name string
		var r tableReads
		require.NoError(t, rows.Scan(&name, &r.SeqScan, &r.IdxScan))
		if m := ferretTable.FindStringSubmatch(name); m != nil {
			name = m[1]
		}
		out[name] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// TestIntegrationAnIdleSystemReadsNothingFromTheStore runs every service on
// FerretDB with PostgreSQL, runs one assessment so that the tables exist and
// hold rows, and then leaves the system idle: over the idle window (which
// includes the moment the finished assessment's deadline falls due)
// PostgreSQL must see no read of any table. Background work is driven by the
// broker (deadlines are scheduled messages, ADR 0029), never by a timer that
// polls the store.
func TestIntegrationAnIdleSystemReadsNothingFromTheStore(t *testing.T) {
	pgURL := mustEnv(t, "IM_TEST_POSTGRES_URL")
	srv := realServers(t, mustEnv(t, "IM_TEST_NATS_URL"))
	const timeout = 20 * time.Second
	sys := startSystemOn(t, srv, compose.AllRoles(), timeout)
	c := uniqueTenant(sys, t)
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, pgURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close(context.Background()) })

	acc, err := c.Submit(ctx, example(t, "startup-rag.yaml"), "application/yaml")
	require.NoError(t, err)
	submitted := time.Now()
	_, completed := follow(t, c, acc.ID)
	require.Equal(t, "completed", completed["status"])

	// Whatever the work read is reported by now.
	time.Sleep(pgStatFlush)
	before := readCounters(ctx, t, pg, srv.mongoDB)
	require.NotEmpty(t, before, "no table of database %s in pg_stat_user_tables", srv.mongoDB)
	window := 15 * time.Second
	if due := time.Until(submitted.Add(timeout)) + 2*time.Second; due > window {
		window = due // the deadline falls due inside the window
	}
	time.Sleep(window)
	time.Sleep(pgStatFlush) // what the window read is reported by now
	after := readCounters(ctx, t, pg, srv.mongoDB)

	var reads []string
	for table, a := range after {
		b := before[table]
		if a.SeqScan != b.SeqScan || a.IdxScan != b.IdxScan {
			reads = append(reads, fmt.Sprintf("%s: %d sequential and %d index scans", table, a.SeqScan-b.SeqScan, a.IdxScan-b.IdxScan))
		}
	}
	require.Empty(t, reads, "tables read over %s while the system was idle", window)
}
