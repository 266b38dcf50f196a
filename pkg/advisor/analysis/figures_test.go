package analysis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The parameter counts derived from each architecture must match what the
// publishers state: Llama 3.1 8B 8.03 B, 70B 70.6 B, 405B 405 B (Hugging Face
// model cards); Mistral 7B 7.24 B (mistralai/Mistral-7B-v0.1 model card).
func TestModelParameterCountsMatchPublished(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id        string
		published float64
		tolerance float64
	}{
		{id: "llama-3.1-8b", published: 8.03, tolerance: 0.01},
		{id: "llama-3.1-70b", published: 70.6, tolerance: 0.1},
		{id: "llama-3.1-405b", published: 405.9, tolerance: 1},
		{id: "mistral-7b", published: 7.24, tolerance: 0.01},
	}
	ms := models()
	require.Len(t, ms, len(tests))
	for _, tc := range tests {
		m, ok := ms[tc.id]
		require.True(t, ok, tc.id)
		require.Equal(t, tc.id, m.id)
		require.InDelta(t, tc.published, m.paramsBillion(), tc.tolerance, tc.id)
		require.NotEmpty(t, m.source)
	}
}

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
			if in.provider == p && in.gpuCount == 8 && in.gpu.memoryGB >= gpuClassGB && in.gpu.fp8 {
				found = true
			}
		}
		require.True(t, found, p)
	}
}
