package compose_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	reportmodel "github.com/infra-mind/infra-mind/pkg/report"
)

// withFakeLLM configures the consultant with one provider: the fake
// OpenAI-protocol server, its key from the environment secret provider.
func withFakeLLM(f *fakeopenai.Server) func(*platform.Config) {
	return func(cfg *platform.Config) {
		cfg.Secrets = platform.SecretsConfig{Provider: "env", CacheTTL: time.Minute,
			Env: map[string]string{"IM_SECRET_FAKE_OPENAI_KEY": "sk-fake-e2e"}}
		cfg.Consultant = platform.ConsultantConfig{
			Providers: []platform.LLMProviderConfig{{Kind: "openai", Name: "fake-openai", BaseURL: f.BaseURL(),
				Model: "gpt-fake", APIKeySecret: "fake-openai-key", Timeout: 5 * time.Second, MaxRetries: 1}},
			KeyRefreshInterval: time.Minute, Audiences: []string{"cto"},
		}
	}
}

// A finished assessment gets its narrative from the consultant through the
// real broker and store: stored for the tenant, generated sections kept,
// a section stating a number the report does not hold replaced by the
// deterministic summary, and the pass rate on /metrics.
func TestTheConsultantWritesAGroundedNarrativeOfAFinishedAssessment(t *testing.T) {
	f := fakeopenai.New()
	defer f.Close()
	f.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		last := r.Body.Messages[len(r.Body.Messages)-1].Content
		if strings.Contains(last, "narrative of the research analysis") || strings.Contains(last, "12345678") {
			return fakeopenai.Reply{Text: "The research found that 12345678 GPUs are needed."}
		}
		return fakeopenai.Reply{Text: "The recommended deployment follows the data for this assessment.", PromptTokens: 900, CompletionTokens: 12}
	})
	sys := startSystem(t, compose.AllRoles(), time.Minute, withFakeLLM(f))
	ctx := context.Background()
	acc, err := sys.client.Submit(ctx, example(t, "startup-rag.yaml"), "application/yaml")
	require.NoError(t, err)
	_, completed := follow(t, sys.client, acc.ID)
	require.Equal(t, "completed", completed["status"])

	var n reportmodel.Narrative
	require.Eventually(t, func() bool {
		got, err := sys.platform.Store.Narratives.Get(ctx, "acme", acc.ID, "cto")
		if err != nil {
			return false
		}
		require.NoError(t, json.Unmarshal([]byte(got.Body), &n))
		return true
	}, 30*time.Second, 50*time.Millisecond, "the narrative is stored")
	require.Equal(t, "fake-openai", n.Provider)
	require.Equal(t, "gpt-fake", n.Model)
	require.True(t, n.Overall.Generated)
	require.Len(t, n.Families, 6)
	for _, s := range n.Families {
		if s.Family == "research" {
			require.False(t, s.Generated, "12345678 is in no report")
			require.Contains(t, s.Note, "12345678")
			continue
		}
		require.True(t, s.Generated, s.Family)
	}
	_, err = sys.platform.Store.Narratives.Get(ctx, "globex", acc.ID, "cto")
	require.Error(t, err, "another tenant has no narrative of it")
	require.Equal(t, "Bearer sk-fake-e2e", f.Requests()[0].Header.Get("Authorization"), "the key came from the secret provider")

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := http.Get(sys.metrics + "/metrics")
		require.NoError(c, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		require.NoError(c, err)
		assert.Contains(c, string(body), `infra_mind_narrative_number_checks_total{result="fail"} 2`)
		assert.Contains(c, string(body), `infra_mind_narrative_number_checks_total{result="pass"} 6`)
		assert.Contains(c, string(body), `infra_mind_narrative_sections_total{source="deterministic"} 1`)
		assert.Contains(c, string(body), `inframind_messages_published_total{type="dev.inframind.assessment.narrative.v1"} 1`)
	}, 10*time.Second, 100*time.Millisecond)
}
