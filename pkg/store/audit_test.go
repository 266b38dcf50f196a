package store_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestAuditLogEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	s, err := store.Connect(ctx, stack.MongoURI, "audit_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store)
	}{
		{"records list newest first, one tenant only, in pages", testAuditList},
		{"action, actor and time filters", testAuditFilters},
		{"a duplicate id fails and the stored record stays", testAuditDuplicate},
		{"what a record needs, and a foreign cursor", testAuditValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s)
		})
	}
}

// TestAuditLogCannotModify checks the repository's whole method set: an
// update or delete method added later fails here.
func TestAuditLogCannotModify(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[*store.AuditLog]()
	var names []string
	for m := range typ.Methods() {
		names = append(names, m.Name)
	}
	require.Equal(t, []string{"Append", "List"}, names)
}

func auditRec(t *testing.T, tenant, actor, action string, at time.Time) audit.Record {
	t.Helper()
	id, err := audit.NewID()
	require.NoError(t, err)
	return audit.Record{
		ID: id, Time: at, Tenant: tenant, Actor: actor, Roles: []string{"owner"}, Action: action,
		Resource: audit.Resource{Type: "assessment", ID: uniq("a")}, Outcome: audit.Success, Status: 200,
		RequestID: uniq("req"), SourceAddr: "203.0.113.7", PeerAddr: "10.0.0.2", UserAgent: "test",
	}
}

func testAuditList(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, globex := uniq("acme"), uniq("globex")
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []audit.Record
	for i := range 5 {
		// Two records share each millisecond, so paging must order by id too.
		r := auditRec(t, acme, "alice", "assessment.read", base.Add(time.Duration(i/2)*time.Millisecond))
		require.NoError(t, s.Audit.Append(ctx, r))
		want = append(want, r)
	}
	require.NoError(t, s.Audit.Append(ctx, auditRec(t, globex, "bob", "assessment.read", base)))
	slices.Reverse(want) // newest first

	var got []audit.Record
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5, "paging must end")
		page, err := s.Audit.List(ctx, acme, store.AuditQuery{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, want, got)

	other, err := s.Audit.List(ctx, globex, store.AuditQuery{})
	require.NoError(t, err)
	require.Len(t, other.Items, 1)
	require.Equal(t, "bob", other.Items[0].Actor)

	none, err := s.Audit.List(ctx, uniq("initech"), store.AuditQuery{})
	require.NoError(t, err)
	require.Empty(t, none.Items)
	require.NotNil(t, none.Items)
}

func testAuditFilters(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tenant := uniq("acme")
	base := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for _, r := range []audit.Record{
		auditRec(t, tenant, "alice", "assessment.create", base),
		auditRec(t, tenant, "alice", "assessment.read", base.Add(time.Hour)),
		auditRec(t, tenant, "bob", "assessment.read", base.Add(2*time.Hour)),
		auditRec(t, tenant, "bob", "webhook.delete", base.Add(3*time.Hour)),
	} {
		require.NoError(t, s.Audit.Append(ctx, r))
	}
	tests := []struct {
		name string
		q    store.AuditQuery
		want []string // "actor action", newest first
	}{
		{"all", store.AuditQuery{}, []string{"bob webhook.delete", "bob assessment.read", "alice assessment.read", "alice assessment.create"}},
		{"by action", store.AuditQuery{Action: "assessment.read"}, []string{"bob assessment.read", "alice assessment.read"}},
		{"by actor", store.AuditQuery{Actor: "alice"}, []string{"alice assessment.read", "alice assessment.create"}},
		{"from is inclusive", store.AuditQuery{From: base.Add(2 * time.Hour)}, []string{"bob webhook.delete", "bob assessment.read"}},
		{"to is exclusive", store.AuditQuery{To: base.Add(time.Hour)}, []string{"alice assessment.create"}},
		{"window and actor", store.AuditQuery{Actor: "bob", From: base.Add(time.Hour), To: base.Add(3 * time.Hour)}, []string{"bob assessment.read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.Audit.List(ctx, tenant, tc.q)
			require.NoError(t, err)
			got := []string{}
			for _, r := range page.Items {
				got = append(got, r.Actor+" "+r.Action)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func testAuditDuplicate(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tenant := uniq("acme")
	r := auditRec(t, tenant, "alice", "assessment.read", time.Now())
	require.NoError(t, s.Audit.Append(ctx, r))
	forged := r
	forged.Actor, forged.Outcome = "mallory", audit.Denied
	err := s.Audit.Append(ctx, forged)
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorIs(t, err, audit.ErrDuplicate)

	page, err := s.Audit.List(ctx, tenant, store.AuditQuery{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, "alice", page.Items[0].Actor)
	require.Equal(t, audit.Success, page.Items[0].Outcome)
}

func testAuditValidation(t *testing.T, s *store.Store) {
	ctx := context.Background()
	ok := auditRec(t, "", audit.Anonymous, audit.ActionAuthFailed, time.Now())
	require.NoError(t, s.Audit.Append(ctx, ok), "a failed authentication has no tenant")

	tests := []struct {
		name   string
		change func(r *audit.Record)
	}{
		{"no id", func(r *audit.Record) { r.ID = "" }},
		{"no action", func(r *audit.Record) { r.Action = "" }},
		{"no actor", func(r *audit.Record) { r.Actor = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := auditRec(t, uniq("acme"), "alice", "assessment.read", time.Now())
			tc.change(&r)
			require.ErrorIs(t, s.Audit.Append(ctx, r), store.ErrInvalid)
		})
	}
	_, err := s.Audit.List(ctx, "", store.AuditQuery{})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.Audit.List(ctx, uniq("acme"), store.AuditQuery{Cursor: "not-a-cursor"})
	require.ErrorIs(t, err, store.ErrBadCursor)
}
