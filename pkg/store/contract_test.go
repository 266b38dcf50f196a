package store_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// runContract is the behaviour every database behind Store must show. Each
// subtest uses its own tenants so subtests run in parallel on one database.
func runContract(t *testing.T, s *store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store)
	}{
		{"ping", testPing},
		{"tenant upsert keeps created_at and renames", testTenants},
		{"assessment create and get roundtrip", testCreateGet},
		{"create with an existing id conflicts", testCreateConflict},
		{"empty tenant or id is refused", testValidation},
		{"another tenant cannot see or change an assessment", testTenantIsolation},
		{"list pages newest first without gaps or duplicates", testListPagination},
		{"list with a foreign cursor is a bad cursor", testBadCursor},
		{"mark family completed is idempotent", testMarkFamilyIdempotent},
		{"finish happens exactly once", testFinishOnce},
		{"a finish whose claimant stopped is completed by the next caller", testFinishRecovers},
		{"an announcement has one owner", func(t *testing.T, s *store.Store) { testAnnouncementOwner(t, s, s) }},
		{"overdue lists only open assessments past deadline", testOverdue},
		{"result upsert twice keeps one row", testResults},
		{"report upsert and get", testReports},
		{"a written report and recommendations stay as written", testCreateOnce},
		{"the close writes the outcome and the families by key", testSetFamilyAndClose},
		{"narrative upsert and get per audience, tenant-scoped", testNarratives},
		{"erasure removes an assessment and what was derived from it, nothing else", testErase},
		{"a conversation is its user's, appended atomically", testConversations},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s)
		})
	}
}

// uniq returns prefix plus random hex, so tests sharing a database never meet.
func uniq(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// newAssessment builds a queued assessment of tenant whose deadline is an
// hour away, so it never shows up in another subtest's Overdue sweep.
func newAssessment(tenant string, created time.Time) store.Assessment {
	return store.Assessment{
		ID:            uniq("a"),
		TenantID:      tenant,
		Name:          "Serve a 70B model in eu-west",
		Status:        string(assessment.StatusQueued),
		Request:       `{"name":"Serve a 70B model in eu-west"}`,
		Families:      map[string]store.FamilyState{},
		CorrelationID: uniq("corr"),
		CreatedAt:     created,
		UpdatedAt:     created,
		Deadline:      time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond),
	}
}

func create(t *testing.T, s *store.Store, a store.Assessment) store.Assessment {
	t.Helper()
	require.NoError(t, s.Assessments.Create(t.Context(), a))
	got, err := s.Assessments.Get(t.Context(), a.TenantID, a.ID)
	require.NoError(t, err)
	return got
}

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func testPing(t *testing.T, s *store.Store) {
	require.NoError(t, s.Ping(t.Context()))
}

func testTenants(t *testing.T, s *store.Store) {
	ctx := t.Context()
	id := uniq("tenant")
	created := ms(time.Now().Add(-time.Hour))
	require.NoError(t, s.Tenants.Upsert(ctx, store.Tenant{ID: id, Name: "Acme", CreatedAt: created}))
	require.NoError(t, s.Tenants.Upsert(ctx, store.Tenant{ID: id, Name: "Acme Corp", CreatedAt: time.Now()}))
	got, err := s.Tenants.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Acme Corp", got.Name)
	require.True(t, created.Equal(got.CreatedAt), "created_at %v, want %v", got.CreatedAt, created)

	_, err = s.Tenants.Get(ctx, uniq("tenant"))
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testCreateGet(t *testing.T, s *store.Store) {
	tenant := uniq("tenant")
	a := newAssessment(tenant, ms(time.Now()))
	got := create(t, s, a)
	require.Equal(t, a.ID, got.ID)
	require.Equal(t, tenant, got.TenantID)
	require.Equal(t, a.Name, got.Name)
	require.Equal(t, a.Request, got.Request)
	require.Equal(t, a.CorrelationID, got.CorrelationID)
	require.Equal(t, string(assessment.StatusQueued), got.Status)
	require.True(t, a.CreatedAt.Equal(got.CreatedAt))
	require.True(t, a.Deadline.Equal(got.Deadline))
	require.Empty(t, got.Families)

	// Defaults for a minimal document.
	minimal := store.Assessment{ID: uniq("a"), TenantID: tenant}
	got = create(t, s, minimal)
	require.Equal(t, string(assessment.StatusQueued), got.Status)
	require.False(t, got.CreatedAt.IsZero())
}

func testCreateConflict(t *testing.T, s *store.Store) {
	tenant := uniq("tenant")
	a := newAssessment(tenant, ms(time.Now()))
	create(t, s, a)
	a.Name = "second"
	require.ErrorIs(t, s.Assessments.Create(t.Context(), a), store.ErrConflict)
	got, err := s.Assessments.Get(t.Context(), tenant, a.ID)
	require.NoError(t, err)
	require.NotEqual(t, "second", got.Name)
}

func testValidation(t *testing.T, s *store.Store) {
	ctx := t.Context()
	now := time.Now()
	tests := []struct {
		name string
		call func() error
	}{
		{"tenant upsert without id", func() error { return s.Tenants.Upsert(ctx, store.Tenant{Name: "x"}) }},
		{"tenant get without id", func() error { _, err := s.Tenants.Get(ctx, ""); return err }},
		{"create without tenant", func() error { return s.Assessments.Create(ctx, store.Assessment{ID: "a"}) }},
		{"create without id", func() error { return s.Assessments.Create(ctx, store.Assessment{TenantID: "t"}) }},
		{"get without tenant", func() error { _, err := s.Assessments.Get(ctx, "", "a"); return err }},
		{"get without id", func() error { _, err := s.Assessments.Get(ctx, "t", ""); return err }},
		{"list without tenant", func() error { _, err := s.Assessments.List(ctx, "", store.ListOptions{}); return err }},
		{"mark without tenant", func() error {
			_, err := s.Assessments.MarkFamilyCompleted(ctx, "", "a", "cloud", "", now)
			return err
		}},
		{"mark unknown family", func() error {
			_, err := s.Assessments.MarkFamilyCompleted(ctx, "t", "a", "families.$x", "", now)
			return err
		}},
		{"finish without id", func() error {
			_, _, err := s.Assessments.Finish(ctx, "t", "", string(assessment.StatusCompleted), nil, "", now)
			return err
		}},
		{"finish to a non-terminal status", func() error {
			_, _, err := s.Assessments.Finish(ctx, "t", "a", string(assessment.StatusRunning), nil, "", now)
			return err
		}},
		{"result without tenant", func() error {
			return s.Results.Upsert(ctx, store.Result{AssessmentID: "a", Family: "cloud"})
		}},
		{"result with a non-deterministic id", func() error {
			return s.Results.Upsert(ctx, store.Result{ID: "x", TenantID: "t", AssessmentID: "a", Family: "cloud"})
		}},
		{"results list without assessment", func() error { _, err := s.Results.List(ctx, "t", ""); return err }},
		{"report without assessment", func() error { return s.Reports.Upsert(ctx, store.Report{TenantID: "t"}) }},
		{"report get without tenant", func() error { _, err := s.Reports.Get(ctx, "", "a"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(), store.ErrInvalid)
		})
	}
}

func testTenantIsolation(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenantA, tenantB := uniq("tenant-a"), uniq("tenant-b")
	a := create(t, s, newAssessment(tenantA, ms(time.Now())))
	require.NoError(t, s.Results.Upsert(ctx, store.Result{TenantID: tenantA, AssessmentID: a.ID, Family: "cloud", Data: "{}"}))
	require.NoError(t, s.Reports.Upsert(ctx, store.Report{TenantID: tenantA, AssessmentID: a.ID, Status: "completed", Body: "{}"}))

	_, err := s.Assessments.Get(ctx, tenantB, a.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	page, err := s.Assessments.List(ctx, tenantB, store.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	_, err = s.Assessments.MarkFamilyCompleted(ctx, tenantB, a.ID, "cloud", "stolen", time.Now())
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = s.Assessments.Finish(ctx, tenantB, a.ID, string(assessment.StatusFailed), nil, "stolen", time.Now())
	require.ErrorIs(t, err, store.ErrNotFound)
	results, err := s.Results.List(ctx, tenantB, a.ID)
	require.NoError(t, err)
	require.Empty(t, results)
	_, err = s.Reports.Get(ctx, tenantB, a.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	// Tenant B's attempts changed nothing of tenant A's.
	after, err := s.Assessments.Get(ctx, tenantA, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, after)
	page, err = s.Assessments.List(ctx, tenantA, store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
}

func testListPagination(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	base := ms(time.Now().Add(-time.Hour))
	// Seven assessments, three sharing one created_at so the id breaks ties.
	offsets := []time.Duration{0, time.Second, time.Second, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}
	var want []store.Assessment
	for _, off := range offsets {
		want = append(want, create(t, s, newAssessment(tenant, base.Add(off))))
	}
	slices.SortFunc(want, func(x, y store.Assessment) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		switch {
		case x.ID > y.ID:
			return -1
		case x.ID < y.ID:
			return 1
		}
		return 0
	})

	var got []string
	var sizes []int
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 5, "pagination does not end")
		p, err := s.Assessments.List(ctx, tenant, store.ListOptions{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		sizes = append(sizes, len(p.Items))
		for _, a := range p.Items {
			got = append(got, a.ID)
		}
		if page == 0 {
			// A newer assessment created while paging must not shift later pages.
			create(t, s, newAssessment(tenant, ms(time.Now())))
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	wantIDs := make([]string, len(want))
	for i, a := range want {
		wantIDs[i] = a.ID
	}
	require.Equal(t, []int{3, 3, 1}, sizes)
	require.Equal(t, wantIDs, got)

	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"zero means the default page size", 0, 8},
		{"one", 1, 1},
		{"above the maximum is clamped", 1000, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Assessments.List(ctx, tenant, store.ListOptions{Limit: tc.limit})
			require.NoError(t, err)
			require.Len(t, p.Items, tc.want)
		})
	}
}

func testBadCursor(t *testing.T, s *store.Store) {
	tenant := uniq("tenant")
	create(t, s, newAssessment(tenant, ms(time.Now())))
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name   string
		cursor string
	}{
		{"not base64", "%%%not-base64%%%"},
		{"no separator", enc([]byte("1700000000000"))},
		{"time not a number", enc([]byte("yesterday:abc"))},
		{"empty id", enc([]byte("1700000000000:"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Assessments.List(t.Context(), tenant, store.ListOptions{Cursor: tc.cursor})
			require.ErrorIs(t, err, store.ErrBadCursor)
		})
	}
}

func testMarkFamilyIdempotent(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s, newAssessment(tenant, ms(time.Now())))
	at := ms(time.Now())

	first, err := s.Assessments.MarkFamilyCompleted(ctx, tenant, a.ID, "cloud", "3 x H100 in eu-west-1", at)
	require.NoError(t, err)
	require.Equal(t, string(assessment.StatusRunning), first.Status)
	require.Equal(t, store.FamilyCompleted, first.Families["cloud"].Status)
	require.Equal(t, "3 x H100 in eu-west-1", first.Families["cloud"].Summary)
	require.True(t, at.Equal(first.Families["cloud"].CompletedAt))
	require.True(t, at.Equal(first.UpdatedAt))

	// A redelivery, later and with another summary, changes nothing.
	again, err := s.Assessments.MarkFamilyCompleted(ctx, tenant, a.ID, "cloud", "other", at.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, first, again)
	stored, err := s.Assessments.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, first, stored)

	second, err := s.Assessments.MarkFamilyCompleted(ctx, tenant, a.ID, "strategy", "aligned", at.Add(time.Second))
	require.NoError(t, err)
	require.Len(t, second.Families, 2)
	require.Equal(t, first.Families["cloud"], second.Families["cloud"])

	// A terminal assessment is returned unchanged.
	done, changed, err := s.Assessments.Finish(ctx, tenant, a.ID, string(assessment.StatusPartial), []string{"research"}, "deadline", at.Add(2*time.Second))
	require.NoError(t, err)
	require.True(t, changed)
	late, err := s.Assessments.MarkFamilyCompleted(ctx, tenant, a.ID, "research", "late", at.Add(3*time.Second))
	require.NoError(t, err)
	require.Equal(t, done, late)
	require.Equal(t, string(assessment.StatusPartial), late.Status)

	_, err = s.Assessments.MarkFamilyCompleted(ctx, tenant, uniq("a"), "cloud", "", at)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testFinishOnce(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s, newAssessment(tenant, ms(time.Now())))
	at := ms(time.Now())

	// Concurrent finishers (a redelivery racing the deadline sweeper): one wins.
	const racers = 4
	var wg sync.WaitGroup
	wins := make(chan store.Assessment, racers)
	errs := make(chan error, racers)
	for i := range racers {
		wg.Go(func() {
			status := string(assessment.StatusCompleted)
			if i%2 == 1 {
				status = string(assessment.StatusPartial)
			}
			got, changed, err := s.Assessments.Finish(ctx, tenant, a.ID, status, []string{"simulation"}, "racer", at)
			if err != nil {
				errs <- err
				return
			}
			if changed {
				wins <- got
			}
		})
	}
	wg.Wait()
	close(wins)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, wins, 1)
	won := <-wins
	require.True(t, assessment.Status(won.Status).Terminal())
	require.Equal(t, []string{"simulation"}, won.MissingFamilies)
	require.Equal(t, "racer", won.Reason)
	require.True(t, at.Equal(won.CompletedAt))

	again, changed, err := s.Assessments.Finish(ctx, tenant, a.ID, string(assessment.StatusFailed), nil, "late", at.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, won, again)

	_, _, err = s.Assessments.Finish(ctx, tenant, uniq("a"), string(assessment.StatusFailed), nil, "", at)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testFinishRecovers(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s, newAssessment(tenant, ms(time.Now())))
	at := ms(time.Now())
	// The claimant inserted its claim, then stopped before updating the assessment.
	_, err := s.Database().Collection(store.CollFinishes).InsertOne(ctx, map[string]any{
		"_id": store.FinishID(tenant, a.ID), "tenant_id": tenant, "assessment_id": a.ID,
		"status": string(assessment.StatusFailed), "reason": "deadline", "at": at,
	})
	require.NoError(t, err)

	got, changed, err := s.Assessments.Finish(ctx, tenant, a.ID, string(assessment.StatusCompleted), nil, "late", at.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, changed, "the claimant, not this caller, finished it")
	require.Equal(t, string(assessment.StatusFailed), got.Status)
	require.Equal(t, "deadline", got.Reason)
	require.True(t, at.Equal(got.CompletedAt))
	stored, err := s.Assessments.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, got, stored)
}

// testAnnouncementOwner races claims to announce one assessment from s1 and
// s2: every caller is told the same single owner, who stays the owner.
func testAnnouncementOwner(t *testing.T, s1, s2 *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s1, newAssessment(tenant, ms(time.Now())))
	const racers = 6
	var wg sync.WaitGroup
	owners := make(chan string, racers)
	errs := make(chan error, racers)
	for i := range racers {
		s := []*store.Store{s1, s2}[i%2]
		wg.Go(func() {
			c, err := s.Assessments.ClaimAnnouncement(ctx, tenant, a.ID, fmt.Sprintf("racer %d", i), time.Now())
			if err != nil {
				errs <- err
				return
			}
			owners <- c.Owner
		})
	}
	wg.Wait()
	close(owners)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var seen []string
	for o := range owners {
		seen = append(seen, o)
	}
	require.Len(t, seen, racers)
	won := seen[0]
	for _, o := range seen {
		require.Equal(t, won, o, "every caller is told the same owner")
	}
	again, err := s2.Assessments.ClaimAnnouncement(ctx, tenant, a.ID, won, time.Now())
	require.NoError(t, err)
	require.Equal(t, won, again.Owner, "the owner claiming again still owns it")

	_, err = s1.Assessments.ClaimAnnouncement(ctx, tenant, a.ID, "", time.Now())
	require.ErrorIs(t, err, store.ErrInvalid)
}

// runAcrossProcesses checks the guarantees that must hold between two
// services sharing one database: s1 and s2 are separate connections to it.
func runAcrossProcesses(t *testing.T, s1, s2 *store.Store) {
	t.Helper()
	t.Run("finish happens exactly once across connections", func(t *testing.T) {
		ctx := t.Context()
		tenant := uniq("tenant")
		a := create(t, s1, newAssessment(tenant, ms(time.Now())))
		stores := []*store.Store{s1, s2, s1, s2, s1, s2}
		var wg sync.WaitGroup
		results := make(chan bool, len(stores))
		errs := make(chan error, len(stores))
		for _, s := range stores {
			wg.Go(func() {
				_, changed, err := s.Assessments.Finish(ctx, tenant, a.ID, string(assessment.StatusCompleted), nil, "", time.Now())
				if err != nil {
					errs <- err
					return
				}
				results <- changed
			})
		}
		wg.Wait()
		close(results)
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		wins := 0
		for changed := range results {
			if changed {
				wins++
			}
		}
		require.Equal(t, 1, wins)
		for _, s := range []*store.Store{s1, s2} {
			got, err := s.Assessments.Get(ctx, tenant, a.ID)
			require.NoError(t, err)
			require.Equal(t, string(assessment.StatusCompleted), got.Status)
		}
	})
	t.Run("an announcement has one owner across connections", func(t *testing.T) { testAnnouncementOwner(t, s1, s2) })
	t.Run("concurrent result upserts keep one row", func(t *testing.T) {
		ctx := t.Context()
		tenant := uniq("tenant")
		a := create(t, s1, newAssessment(tenant, ms(time.Now())))
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for i := range 6 {
			s := []*store.Store{s1, s2}[i%2]
			wg.Go(func() {
				errs <- s.Results.Upsert(ctx, store.Result{TenantID: tenant, AssessmentID: a.ID, Family: "cloud", Data: "{}"})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := s2.Results.List(ctx, tenant, a.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
	})
}

func testOverdue(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	now := ms(time.Now())
	mk := func(deadline time.Time) store.Assessment {
		a := newAssessment(tenant, now)
		a.Deadline = deadline
		return create(t, s, a)
	}
	queuedLate := mk(now.Add(-2 * time.Minute))
	runningLate := mk(now.Add(-time.Minute))
	_, err := s.Assessments.MarkFamilyCompleted(ctx, tenant, runningLate.ID, "cloud", "", now)
	require.NoError(t, err)
	finishedLate := mk(now.Add(-time.Minute))
	_, _, err = s.Assessments.Finish(ctx, tenant, finishedLate.ID, string(assessment.StatusCompleted), nil, "", now)
	require.NoError(t, err)
	mk(now.Add(time.Minute)) // not yet due

	overdue, err := s.Assessments.Overdue(ctx, now, 1000)
	require.NoError(t, err)
	var mine []string
	for _, a := range overdue {
		require.False(t, assessment.Status(a.Status).Terminal(), "terminal assessment %s listed", a.ID)
		require.True(t, a.Deadline.Before(now))
		if a.TenantID == tenant {
			mine = append(mine, a.ID)
		}
	}
	require.ElementsMatch(t, []string{queuedLate.ID, runningLate.ID}, mine)

	one, err := s.Assessments.Overdue(ctx, now, 1)
	require.NoError(t, err)
	require.Len(t, one, 1)
}

func testResults(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s, newAssessment(tenant, ms(time.Now())))
	at := ms(time.Now())
	res := store.Result{
		ID:           store.ResultID(tenant, a.ID, "simulation"),
		TenantID:     tenant,
		AssessmentID: a.ID,
		Family:       "simulation",
		Data:         `{"p50":1}`,
		ReceivedAt:   at,
	}
	require.NoError(t, s.Results.Upsert(ctx, res))
	res.Data = `{"p50":2}`
	require.NoError(t, s.Results.Upsert(ctx, res))
	// An empty id is filled with the deterministic one.
	require.NoError(t, s.Results.Upsert(ctx, store.Result{TenantID: tenant, AssessmentID: a.ID, Family: "cloud", Data: "{}", ReceivedAt: at}))

	got, err := s.Results.List(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, []string{"cloud", "simulation"}, []string{got[0].Family, got[1].Family})
	require.Equal(t, store.ResultID(tenant, a.ID, "cloud"), got[0].ID)
	require.Equal(t, `{"p50":2}`, got[1].Data)
	require.True(t, at.Equal(got[1].ReceivedAt))

	none, err := s.Results.List(ctx, tenant, uniq("a"))
	require.NoError(t, err)
	require.Empty(t, none)
}

func testReports(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s, newAssessment(tenant, ms(time.Now())))
	_, err := s.Reports.Get(ctx, tenant, a.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	rep := store.Report{
		ID:           store.ReportID(tenant, a.ID),
		TenantID:     tenant,
		AssessmentID: a.ID,
		Status:       string(assessment.StatusPartial),
		Body:         `{"v":1}`,
		CreatedAt:    ms(time.Now()),
	}
	require.NoError(t, s.Reports.Upsert(ctx, rep))
	rep.Status = string(assessment.StatusCompleted)
	rep.Body = `{"v":2}`
	require.NoError(t, s.Reports.Upsert(ctx, rep))

	got, err := s.Reports.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, rep.ID, got.ID)
	require.Equal(t, rep.Status, got.Status)
	require.Equal(t, rep.Body, got.Body)
	require.True(t, rep.CreatedAt.Equal(got.CreatedAt))

	require.ErrorIs(t, s.Reports.Upsert(ctx, store.Report{ID: "other", TenantID: tenant, AssessmentID: a.ID}), store.ErrInvalid)
}

func testCreateOnce(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s, newAssessment(tenant, ms(time.Now())))

	rep := store.Report{TenantID: tenant, AssessmentID: a.ID, Status: string(assessment.StatusCompleted), Body: `{"v":1}`}
	require.NoError(t, s.Reports.Create(ctx, rep))
	rep.Body = `{"v":2}`
	require.ErrorIs(t, s.Reports.Create(ctx, rep), store.ErrConflict)
	got, err := s.Reports.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"v":1}`, got.Body, "the first report holds")
	require.ErrorIs(t, s.Reports.Create(ctx, store.Report{ID: "other", TenantID: tenant, AssessmentID: a.ID}), store.ErrInvalid)

	rec := store.Recommendations{TenantID: tenant, AssessmentID: a.ID, Status: string(assessment.StatusCompleted)}
	require.NoError(t, s.Recommendations.Create(ctx, rec))
	rec.Status = string(assessment.StatusPartial)
	require.ErrorIs(t, s.Recommendations.Create(ctx, rec), store.ErrConflict)
	gotRec, err := s.Recommendations.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, string(assessment.StatusCompleted), gotRec.Status)
}

func testSetFamilyAndClose(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant := uniq("tenant")
	a := create(t, s, newAssessment(tenant, ms(time.Now())))
	at := ms(time.Now())

	families := map[string]store.FamilyState{
		"cloud":    {Status: store.FamilyCompleted, CompletedAt: at, Summary: "plan ready"},
		"research": {Status: store.FamilyPending},
	}
	closed, err := s.Assessments.Close(ctx, tenant, a.ID, string(assessment.StatusPartial), []string{"research"}, "deadline passed", at, families)
	require.NoError(t, err)
	require.Equal(t, string(assessment.StatusPartial), closed.Status)
	require.Equal(t, []string{"research"}, closed.MissingFamilies)
	require.Equal(t, "deadline passed", closed.Reason)
	require.True(t, at.Equal(closed.CompletedAt))
	require.Equal(t, store.FamilyCompleted, closed.Families["cloud"].Status)
	require.Equal(t, "plan ready", closed.Families["cloud"].Summary)
	require.Equal(t, store.FamilyPending, closed.Families["research"].Status)
	again, err := s.Assessments.Close(ctx, tenant, a.ID, string(assessment.StatusPartial), []string{"research"}, "deadline passed", at, nil)
	require.NoError(t, err)
	require.Equal(t, closed.Status, again.Status, "closing again with the same claim changes nothing")
	require.Equal(t, closed.Families, again.Families, "no family map leaves the stored one")
	got, err := s.Assessments.Get(ctx, tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, closed.Families, got.Families)

	_, err = s.Assessments.Close(ctx, tenant, a.ID, string(assessment.StatusRunning), nil, "", at, nil)
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.Assessments.Close(ctx, uniq("other"), a.ID, string(assessment.StatusFailed), nil, "", at, nil)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testNarratives(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant, other := uniq("tenant"), uniq("tenant")
	id := uniq("assessment")
	_, err := s.Narratives.Get(ctx, tenant, id, "cto")
	require.ErrorIs(t, err, store.ErrNotFound)

	n := store.Narrative{TenantID: tenant, AssessmentID: id, Audience: "cto", Body: `{"v":1}`, CreatedAt: ms(time.Now())}
	require.NoError(t, s.Narratives.Upsert(ctx, n))
	n.Body = `{"v":2}`
	require.NoError(t, s.Narratives.Upsert(ctx, n), "a repeated write replaces the same document")
	require.NoError(t, s.Narratives.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id, Audience: "cfo", Body: `{"cfo":true}`}))

	got, err := s.Narratives.Get(ctx, tenant, id, "cto")
	require.NoError(t, err)
	require.Equal(t, store.NarrativeID(tenant, id, "cto"), got.ID)
	require.Equal(t, `{"v":2}`, got.Body)
	all, err := s.Narratives.List(ctx, tenant, id)
	require.NoError(t, err)
	require.Len(t, all, 2, "List returns each audience written, once")
	none, err := s.Narratives.List(ctx, other, id)
	require.NoError(t, err)
	require.Empty(t, none, "another tenant lists none")
	cfo, err := s.Narratives.Get(ctx, tenant, id, "cfo")
	require.NoError(t, err)
	require.Equal(t, `{"cfo":true}`, cfo.Body, "each audience has its own narrative")

	_, err = s.Narratives.Get(ctx, other, id, "cto")
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant cannot read it")
	require.ErrorIs(t, s.Narratives.Upsert(ctx, store.Narrative{ID: "chosen", TenantID: tenant, AssessmentID: id, Audience: "cto"}), store.ErrInvalid)
	require.ErrorIs(t, s.Narratives.Upsert(ctx, store.Narrative{TenantID: tenant, AssessmentID: id}), store.ErrInvalid)
}

func testConversations(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tenant, other := uniq("tenant"), uniq("tenant")
	aid, cid := uniq("assessment"), uniq("conversation")
	c := store.Conversation{ConversationID: cid, TenantID: tenant, AssessmentID: aid, UserID: "u1", Title: "Why not H100?",
		CreatedAt: ms(time.Now())}
	require.NoError(t, s.Conversations.Create(ctx, c))
	require.ErrorIs(t, s.Conversations.Create(ctx, c), store.ErrConflict, "an id is created once")
	require.NoError(t, s.Conversations.Create(ctx, store.Conversation{ConversationID: uniq("conversation"), TenantID: tenant,
		AssessmentID: aid, UserID: "u2", CreatedAt: ms(time.Now())}))

	require.NoError(t, s.Conversations.Append(ctx, tenant, cid,
		store.ChatMessage{Role: "user", Content: "Why not H100?"},
		store.ChatMessage{Role: "assistant", Content: "It costs $12,300 a month.", Generated: true,
			Tools: []store.ChatToolUse{{Name: "read_report", Arguments: `{"section":"cost"}`, Result: `{"low":12300}`}}}))
	require.NoError(t, s.Conversations.Append(ctx, tenant, cid, store.ChatMessage{Role: "user", Content: "And in the EU?"}))

	got, err := s.Conversations.Get(ctx, tenant, "u1", cid)
	require.NoError(t, err)
	require.Equal(t, 3, got.Turns)
	require.Len(t, got.Messages, 3)
	require.Equal(t, "Why not H100?", got.Messages[0].Content)
	require.Equal(t, "read_report", got.Messages[1].Tools[0].Name)
	require.True(t, got.Messages[1].Generated)
	require.Equal(t, "And in the EU?", got.Messages[2].Content, "turns keep their order")

	_, err = s.Conversations.Get(ctx, tenant, "u2", cid)
	require.ErrorIs(t, err, store.ErrNotFound, "another user of the tenant cannot read it")
	_, err = s.Conversations.Get(ctx, other, "u1", cid)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant cannot read it")
	require.ErrorIs(t, s.Conversations.Append(ctx, other, cid, store.ChatMessage{Role: "user", Content: "x"}), store.ErrNotFound,
		"another tenant cannot append to it")

	mine, err := s.Conversations.List(ctx, tenant, "u1", aid)
	require.NoError(t, err)
	require.Len(t, mine, 1, "a user lists only their own")
	require.Equal(t, cid, mine[0].ConversationID)
	require.Equal(t, 3, mine[0].Turns)
	require.Empty(t, mine[0].Messages, "List leaves the messages out")
	none, err := s.Conversations.List(ctx, other, "u1", aid)
	require.NoError(t, err)
	require.Empty(t, none)
}
