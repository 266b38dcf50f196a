package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// A stored request is protojson, which writes 64-bit integers as strings;
// the API's answer types them as numbers, and a user reads back the number
// they sent.
func TestStoredRequestReadsBackItsNumbers(t *testing.T) {
	t.Parallel()
	req := &inframindv1.AssessmentRequest{Name: "rag", Workloads: []*inframindv1.Workload{
		{Name: "search", Kind: "rag", VectorCount: 12_000_000, CorpusGb: 1.5},
		{Name: "api", Kind: "web_service"},
	}}
	stored, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(req)
	require.NoError(t, err)
	require.Contains(t, string(stored), `"12000000"`, "protojson quotes int64")

	got, err := assessmentOf(store.Assessment{ID: "a", Request: string(stored)}, true)
	require.NoError(t, err)
	require.NotNil(t, got.Request)
	require.Len(t, got.Request.Workloads, 2)
	require.NotNil(t, got.Request.Workloads[0].VectorCount)
	require.Equal(t, 12_000_000, *got.Request.Workloads[0].VectorCount)
	require.Nil(t, got.Request.Workloads[1].VectorCount)

	list, err := assessmentOf(store.Assessment{ID: "a", Request: string(stored)}, false)
	require.NoError(t, err)
	require.Nil(t, list.Request, "lists leave the request out")
}
