package synth

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// storedRows returns results as the progress bucket gives them back for
// one assessment, with their bytes.
func storedRows(t testing.TB, tenant, id string, results map[string]*inframindv1.AgentResultPublished) []progress.Result {
	t.Helper()
	var rows []progress.Result
	for _, f := range assessment.Families() {
		res, ok := results[string(f)]
		if !ok {
			continue
		}
		b, err := protojson.Marshal(res)
		require.NoError(t, err)
		rows = append(rows, progress.Result{TenantID: tenant, AssessmentID: id, Family: string(f), Data: b})
	}
	return rows
}

func TestDecodeResultsReusesOnlyTheSameBytes(t *testing.T) {
	t.Parallel()
	_, results := exampleResults(t, "startup-rag.yaml")
	rows := storedRows(t, "acme", "a1", results)
	cache := newDecodedResults()
	held := map[string]*inframindv1.AgentResultPublished{}
	for _, r := range rows {
		var m inframindv1.AgentResultPublished
		require.NoError(t, protojson.Unmarshal(r.Data, &m))
		held[r.Family] = &m
		// A copy of the bytes, as the bucket returns its own.
		cache.put(resultKey{r.TenantID, r.AssessmentID, r.Family}, 0, append([]byte(nil), r.Data...), &m)
	}
	// The cloud result stored again with other content (a family that
	// answered again differently): its bytes no longer match.
	cloud := proto.CloneOf(results[string(assessment.FamilyCloud)])
	cloud.Summary = "answered again"
	b, err := protojson.Marshal(cloud)
	require.NoError(t, err)
	for i := range rows {
		if rows[i].Family == string(assessment.FamilyCloud) {
			rows[i].Data = b
		}
	}

	got, err := decodeResults(rows, nil, cache)
	require.NoError(t, err)
	require.Len(t, got, len(rows))
	for _, r := range rows {
		if r.Family == string(assessment.FamilyCloud) {
			require.False(t, held[r.Family] == got[r.Family], "a result stored again is decoded from what is stored")
			require.Equal(t, "answered again", got[r.Family].GetSummary())
			continue
		}
		require.True(t, held[r.Family] == got[r.Family], "%s: the bytes decoded before are not parsed again", r.Family)
	}
	// Another assessment's rows with the same bytes are not its.
	other := storedRows(t, "acme", "a2", results)
	got, err = decodeResults(other, nil, cache)
	require.NoError(t, err)
	for _, r := range other {
		require.False(t, held[r.Family] == got[r.Family], "%s: another assessment's result", r.Family)
		require.True(t, proto.Equal(results[r.Family], got[r.Family]))
	}
}

func TestDecodedResultsStayBounded(t *testing.T) {
	t.Parallel()
	c := newDecodedResults()
	big := make([]byte, maxDecodedBytes/4+1)
	for i := range 4 {
		c.put(resultKey{"acme", fmt.Sprint("a", i), "cloud"}, 0, big, &inframindv1.AgentResultPublished{})
	}
	require.Equal(t, 3, c.len(), "the oldest goes once the bytes held pass the bound")
	_, ok := c.get(resultKey{"acme", "a0", "cloud"}, big)
	require.False(t, ok)
	_, ok = c.get(resultKey{"acme", "a3", "cloud"}, big)
	require.True(t, ok)

	c.drop("acme", "a3")
	_, ok = c.get(resultKey{"acme", "a3", "cloud"}, big)
	require.False(t, ok, "a closed assessment's results are dropped")
	require.Equal(t, 2, c.len())

	for i := range maxDecodedEntries + 10 {
		c.put(resultKey{"acme", fmt.Sprint("b", i), "cloud"}, 0, []byte("{}"), &inframindv1.AgentResultPublished{})
	}
	require.Equal(t, maxDecodedEntries, c.len())
}

// The decoded results are shared between the deliveries of an assessment
// and its close, so building the report and the recommendations must only
// read them.
func TestBuildersDoNotMutateResults(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"startup-rag.yaml", "chatbot-70b-hipaa-us.yaml", "impossible.yaml"} {
		_, results := exampleResults(t, file)
		before := map[string]*inframindv1.AgentResultPublished{}
		for f, r := range results {
			before[f] = proto.CloneOf(r)
		}
		a := store.Assessment{ID: "a1", TenantID: "acme", Name: "n", Status: "completed"}
		_, err := buildReport(a, results, goldenAt)
		require.NoError(t, err)
		set := recommend.Build(results)
		ev := &inframindv1.AssessmentCompleted{}
		summarize(ev, a, results, set)
		for f, r := range results {
			require.True(t, proto.Equal(before[f], r), "%s: %s result changed", file, f)
		}
	}
}

// BenchmarkDecodeResults measures decoding an assessment's stored results
// when closing it: every row parsed (none held, as before the cache, or a
// replica that handled none of them), or all held from their deliveries.
func BenchmarkDecodeResults(b *testing.B) {
	_, results := exampleResults(b, "startup-rag.yaml")
	rows := storedRows(b, "acme", "a1", results)
	held := newDecodedResults()
	for _, r := range rows {
		var m inframindv1.AgentResultPublished
		require.NoError(b, protojson.Unmarshal(r.Data, &m))
		held.put(resultKey{r.TenantID, r.AssessmentID, r.Family}, 0, append([]byte(nil), r.Data...), &m)
	}
	for _, bc := range []struct {
		name  string
		cache *decodedResults
	}{{"none-held", nil}, {"all-held", held}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeResults(rows, nil, bc.cache); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
