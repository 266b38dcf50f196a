package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestChildAssessmentsEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	s, err := store.Connect(ctx, stack.MongoURI, "children_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	acme, globex := uniq("acme"), uniq("globex")
	base := uniq("b")
	require.NoError(t, s.Assessments.Create(ctx, store.Assessment{ID: base, TenantID: acme}))

	// Two re-runs that pick the same number: the deterministic id lets one win.
	v2 := store.Assessment{ID: store.VersionID(base, 2), TenantID: acme, ParentID: base, Kind: store.KindVersion, Version: 2}
	require.NoError(t, s.Assessments.Create(ctx, v2))
	require.ErrorIs(t, s.Assessments.Create(ctx, v2), store.ErrConflict)
	require.NotEqual(t, store.VersionID(base, 2), store.VersionID(base, 3))
	require.Equal(t, store.VersionID(base, 2), store.VersionID(base, 2))

	sc := store.Assessment{ID: uniq("s"), TenantID: acme, ParentID: base, Kind: store.KindScenario, Overrides: `{"traffic_multiplier":2}`}
	require.NoError(t, s.Assessments.Create(ctx, sc))
	// Another tenant's child of the same parent id is not listed.
	require.NoError(t, s.Assessments.Create(ctx, store.Assessment{ID: uniq("x"), TenantID: globex, ParentID: base, Kind: store.KindScenario}))

	tests := []struct {
		name, tenant, kind string
		want               []string
	}{
		{name: "versions", tenant: acme, kind: store.KindVersion, want: []string{v2.ID}},
		{name: "scenarios", tenant: acme, kind: store.KindScenario, want: []string{sc.ID}},
		{name: "another tenant sees none of acme's", tenant: uniq("initech"), kind: store.KindScenario, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Assessments.Children(ctx, tc.tenant, base, tc.kind)
			require.NoError(t, err)
			ids := []string{}
			for _, a := range got {
				ids = append(ids, a.ID)
				require.Equal(t, base, a.ParentID)
			}
			require.Equal(t, tc.want, ids)
		})
	}
	got, err := s.Assessments.Get(ctx, acme, sc.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"traffic_multiplier":2}`, got.Overrides)
}
