package estimate

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/assessment"
)

func testEngine(t *testing.T) *Engine {
	t.Helper()
	cat, err := catalog.Load()
	require.NoError(t, err)
	e, err := New(cat)
	require.NoError(t, err)
	return e
}

func mfu(low, high float64) *sizing.Range { return &sizing.Range{Low: low, High: high} }

func TestNewNeedsACatalogue(t *testing.T) {
	t.Parallel()
	_, err := New(nil)
	require.ErrorContains(t, err, "catalogue is required")
}

// Input the engine refuses comes back as an *InvalidInputError whose entries
// name the input's fields, so any caller can show them next to the field.
func TestRefusedInputNamesItsFields(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	tests := []struct {
		name string
		run  func() error
		want []assessment.FieldError
	}{
		{name: "model and architecture", want: []assessment.FieldError{{Field: "architecture", Reason: "give model or architecture, not both"}},
			run: func() error {
				_, err := e.Inference(InferenceInput{Model: "llama-3.1-8b", Architecture: &Architecture{TotalParamsBillion: 8, Layers: 32, Attention: "mha", AttentionHeads: 32, HeadDim: 128},
					Precision: "bf16", GPU: "l4", InputTokens: 10, OutputTokens: 10})
				return err
			}},
		{name: "tensor parallel beyond the instance", want: []assessment.FieldError{{Field: "tensor_parallel", Reason: "is larger than the 1 GPUs of g5.xlarge"}},
			run: func() error {
				_, err := e.Inference(InferenceInput{Model: "llama-3.1-8b", Precision: "bf16", Instance: &InstanceRef{Provider: "aws", Name: "g5.xlarge"},
					TensorParallel: 2, InputTokens: 10, OutputTokens: 10})
				return err
			}},
		{name: "mfu upside down", want: []assessment.FieldError{{Field: "mfu.low", Reason: "must not exceed mfu.high (0.5 > 0.3): low is the pessimistic end"}},
			run: func() error {
				_, err := e.Training(TrainingInput{Model: "llama-3.1-8b", Method: "lora", Precision: "bf16", GPU: "h100-sxm", GPUs: 8, TokensBillion: 1,
					MFU: mfu(0.5, 0.3)})
				return err
			}},
		{name: "gpus missing with a gpu", want: []assessment.FieldError{{Field: "gpus", Reason: "is required with gpu (with instance it defaults to the instance's GPU count)"}},
			run: func() error {
				_, err := e.Training(TrainingInput{Model: "llama-3.1-8b", Method: "lora", Precision: "bf16", GPU: "h100-sxm", TokensBillion: 1})
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ie *InvalidInputError
			require.True(t, errors.As(tc.run(), &ie))
			require.Equal(t, tc.want, ie.Errors)
		})
	}
}

// A catalogue model on a catalogue GPU is sized and priced, with the
// catalogue rows it used.
func TestInferenceSizesAndPrices(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	ans, err := e.Inference(InferenceInput{Model: "llama-3.1-8b", Precision: "bf16", GPU: "l4", InputTokens: 1000, OutputTokens: 200,
		PeakRequestsPerSecond: 5, Headroom: 0.2})
	require.NoError(t, err)
	require.True(t, ans.Feasible, ans.Reason)
	require.Equal(t, "cheapest that meets the targets", ans.TensorParallelChosen)
	require.NotEmpty(t, ans.Costs)
	require.NotNil(t, ans.Replicas)
	require.GreaterOrEqual(t, ans.Replicas.Replicas.Low, 1.0)
	require.Contains(t, ans.Catalog.Rows, CatalogRow{Table: "models", Key: "llama-3.1-8b", Source: ans.Catalog.Rows[0].Source, AsOf: ans.Catalog.Rows[0].AsOf})
}

// The engine stays a pure calculator: nothing it links speaks to a network,
// a store or a broker.
func TestEngineDoesNoIO(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		require.NotEqual(t, "net", dep, "the estimate engine links the network")
		for _, banned := range []string{"net/http", "database/sql", "github.com/labstack", "github.com/nats-io",
			"go.mongodb.org", "github.com/redis", "github.com/infra-mind/infra-mind/pkg/store", "github.com/infra-mind/infra-mind/pkg/bus",
			"github.com/infra-mind/infra-mind/pkg/cache", "github.com/infra-mind/infra-mind/pkg/gateway"} {
			require.Falsef(t, dep == banned || strings.HasPrefix(dep, banned+"/"), "the estimate engine links %s", dep)
		}
	}
}
