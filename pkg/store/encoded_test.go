package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// A report or recommendations can be written only as EncodeReport and
// EncodeRecommendations encoded them: a zero value is refused before the
// store is asked, and an id other than the deterministic one is refused
// when encoding, as Create refuses it.
func TestOnlyEncodedDocumentsAreCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	require.ErrorIs(t, (&store.Reports{}).CreateEncoded(ctx, store.EncodedReport{}), store.ErrInvalid)
	require.ErrorIs(t, (&store.RecommendationsRepo{}).CreateEncoded(ctx, store.EncodedRecommendations{}), store.ErrInvalid)

	_, err := store.EncodeReport(store.Report{ID: "other", TenantID: "acme", AssessmentID: "a1", Body: "{}"})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = store.EncodeReport(store.Report{AssessmentID: "a1", Body: "{}"})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = store.EncodeRecommendations(store.Recommendations{ID: "other", TenantID: "acme", AssessmentID: "a1"})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = store.EncodeReport(store.Report{TenantID: "acme", AssessmentID: "a1", Body: "{}"})
	require.NoError(t, err)
}
