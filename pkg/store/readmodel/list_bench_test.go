package readmodel_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// BenchmarkReadModelListing lists one tenant's first page of 20 and an
// assessment's 20 versions on the embedded broker with 2,000 of the
// tenant's assessments in the read model, created within one hour.
func BenchmarkReadModelListing(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: b.TempDir()})
	require.NoError(b, err)
	b.Cleanup(stack.Close)
	bs, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "list-bench", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = bs.Close() })
	m, err := readmodel.Open(ctx, bs.JS)
	require.NoError(b, err)
	const stored, versions = 2000, 20
	t0 := time.Now().UTC().Truncate(time.Hour)
	l := m.NewLoader()
	for i := range stored {
		a := store.Assessment{ID: fmt.Sprintf("a%06d", i), TenantID: "acme", Status: "completed", CreatedAt: t0.Add(time.Duration(i) * time.Second / 2)}
		if i > 0 && i <= versions {
			a.ParentID, a.Kind, a.Version = "a000000", store.KindVersion, i+1
		}
		require.NoError(b, l.Assessment(ctx, a))
	}
	require.NoError(b, l.Flush(ctx))

	b.Run("list first page of 20", func(b *testing.B) {
		for b.Loop() {
			got, err := m.ListAssessments(ctx, "acme", nil, 21)
			require.NoError(b, err)
			require.Len(b, got, 21)
		}
	})
	b.Run("versions of an assessment", func(b *testing.B) {
		for b.Loop() {
			got, err := m.Children(ctx, "acme", "a000000", store.KindVersion)
			require.NoError(b, err)
			require.Len(b, got, versions)
		}
	})
}
