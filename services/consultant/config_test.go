package main

import (
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/consultantrole"
)

// The provider list is read from IM_LLM_PROVIDER_<n>_* in order, with
// each provider's defaults, and no provider leaves the consultant off.
func TestProvidersAreReadInOrderFromTheEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := env.ParseAsWithOptions[platform.Config](env.Options{Environment: map[string]string{
		"IM_LLM_PROVIDER_0_KIND":             "azure",
		"IM_LLM_PROVIDER_0_NAME":             "azure-eu",
		"IM_LLM_PROVIDER_0_BASE_URL":         "https://advisor.openai.azure.com",
		"IM_LLM_PROVIDER_0_AZURE_DEPLOYMENT": "gpt4o",
		"IM_LLM_PROVIDER_0_API_KEY_SECRET":   "azure-openai-key",
		"IM_LLM_PROVIDER_0_TIMEOUT":          "20s",
		"IM_LLM_PROVIDER_1_KIND":             "compatible",
		"IM_LLM_PROVIDER_1_BASE_URL":         "http://vllm:8000/v1",
		"IM_LLM_PROVIDER_1_MODEL":            "meta-llama/Llama-3.1-8B-Instruct",
		"IM_LLM_HEDGE_DELAY":                 "3s",
		"IM_CONSULTANT_AUDIENCES":            "cto,cfo",
	}})
	require.NoError(t, err)
	p := cfg.Consultant.Providers
	require.Len(t, p, 2)
	require.Equal(t, "azure", p[0].Kind)
	require.Equal(t, "gpt4o", p[0].AzureDeployment)
	require.Equal(t, "azure-openai-key", p[0].APIKeySecret)
	require.Equal(t, 20*time.Second, p[0].Timeout)
	require.Equal(t, "compatible", p[1].Kind)
	require.Equal(t, 60*time.Second, p[1].Timeout, "each provider gets the defaults")
	require.Equal(t, 2, p[1].MaxRetries)
	require.Equal(t, 3*time.Second, cfg.Consultant.HedgeDelay)
	require.Equal(t, []string{"cto", "cfo"}, cfg.Consultant.Audiences)
	require.True(t, consultantrole.Enabled(cfg))

	none, err := env.ParseAsWithOptions[platform.Config](env.Options{Environment: map[string]string{}})
	require.NoError(t, err)
	require.False(t, consultantrole.Enabled(none))
	require.Equal(t, []string{"cto"}, none.Consultant.Audiences)
}
