package store_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// TestStoredReportsRoundTripWhileCompressorsAreReused writes many distinct
// reports at once, as closes running side by side do: each stored form
// reads back as its own body, whichever reused compressor wrote it.
func TestStoredReportsRoundTripWhileCompressorsAreReused(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				body := fmt.Sprintf(`{"assessment":"a-%d-%d","text":%q}`, g, i, strings.Repeat(fmt.Sprint(g*100+i), 200+i))
				b, err := store.MarshalReport(store.Report{ID: "r", TenantID: "t", AssessmentID: "a", Status: "done", Body: body})
				if !assert(t, err == nil, "marshal: %v", err) {
					return
				}
				rep, err := store.UnmarshalReport(b)
				if !assert(t, err == nil, "unmarshal: %v", err) || !assert(t, rep.Body == body, "report %d-%d read back as another body", g, i) {
					return
				}
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
}

// assert reports a failure from a goroutine other than the test's.
func assert(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

// TestStoredDocumentsOfEitherCompressionReadBack: reports and
// recommendations are stored as Zstandard frames (ADR 0057), and those
// stored gzip-compressed before read back as they were written; bytes in
// neither format are an error, not an empty report.
func TestStoredDocumentsOfEitherCompressionReadBack(t *testing.T) {
	t.Parallel()
	body := `{"assessment":"a-1","text":"` + strings.Repeat("figure, source, formula; ", 400) + `"}`
	stored, err := store.MarshalReport(store.Report{ID: "r", TenantID: "acme", AssessmentID: "a-1", Status: "completed", Body: body})
	require.NoError(t, err)
	var raw struct {
		Packed []byte `bson:"body_gzip"`
	}
	require.NoError(t, bson.Unmarshal(stored, &raw))
	require.True(t, bytes.HasPrefix(raw.Packed, []byte{0x28, 0xb5, 0x2f, 0xfd}), "a Zstandard frame")
	require.Less(t, len(raw.Packed)*10, len(body))

	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, err := zw.Write(b)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	old, err := bson.Marshal(bson.D{{Key: "_id", Value: "r"}, {Key: "tenant_id", Value: "acme"}, {Key: "assessment_id", Value: "a-1"},
		{Key: "status", Value: "completed"}, {Key: "body_gzip", Value: gz([]byte(body))}})
	require.NoError(t, err)
	rep, err := store.UnmarshalReport(old)
	require.NoError(t, err)
	require.Equal(t, body, rep.Body, "a report stored gzip-compressed reads back")

	set := recommend.Set{Recommendations: []recommend.Recommendation{{ID: "rec-1", Category: "cloud", Action: "Serve on L4", Effort: "low", Confidence: 0.8}}, Resolutions: []recommend.Resolution{}}
	setBSON, err := bson.Marshal(set)
	require.NoError(t, err)
	oldRec, err := bson.Marshal(bson.D{{Key: "_id", Value: "c"}, {Key: "tenant_id", Value: "acme"}, {Key: "assessment_id", Value: "a-1"},
		{Key: "status", Value: "completed"}, {Key: "set", Value: bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: gz(setBSON)}}})
	require.NoError(t, err)
	rec, err := store.UnmarshalRecommendations(oldRec)
	require.NoError(t, err)
	require.Equal(t, set, rec.Set, "recommendations stored gzip-compressed read back")
	newRec, err := store.MarshalRecommendations(store.Recommendations{ID: "c", TenantID: "acme", AssessmentID: "a-1", Status: "completed", Set: set})
	require.NoError(t, err)
	rec, err = store.UnmarshalRecommendations(newRec)
	require.NoError(t, err)
	require.Equal(t, set, rec.Set)

	garbled, err := bson.Marshal(bson.D{{Key: "_id", Value: "r"}, {Key: "body_gzip", Value: []byte("not compressed")}})
	require.NoError(t, err)
	_, err = store.UnmarshalReport(garbled)
	require.Error(t, err)
}
