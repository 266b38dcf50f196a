package analysis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInstanceTableIsCitedAndConsistent(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, in := range instances() {
		key := in.provider + "/" + in.name
		require.False(t, seen[key], "duplicate %s", key)
		seen[key] = true
		require.Contains(t, providers(), in.provider, key)
		require.Positive(t, in.usdPerHour, key)
		require.Positive(t, in.gpuCount, key)
		require.Positive(t, in.gpu.memoryGB, key)
		require.NotEmpty(t, in.region, key)
		require.NotEmpty(t, in.source.key, key)
		require.NotEmpty(t, in.source.asOfText, key)
		require.Contains(t, in.source.label(), "as of", key)
		if !in.source.asOf.IsZero() {
			require.Equal(t, in.source.asOfText, in.source.asOf.Format("2006-01-02"), key)
			require.False(t, in.source.asOf.After(catalogueCollected()), key)
		}
	}
	// Every provider offers an 8-GPU 80 GB-class machine, so any model can be
	// placed on every provider (possibly over several machines).
	for _, p := range providers() {
		found := false
		for _, in := range instances() {
			if in.provider == p && in.gpuCount == 8 && in.gpu.memoryGB >= 80 && in.gpu.fp8 {
				found = true
			}
		}
		require.True(t, found, p)
	}
}
