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

// The budgets and the providers' prices: a hosted model is priced by the
// catalogue's row (with its source), a self-hosted one by its settings, and
// a dollar budget refuses a provider without a price.
func TestBudgetsAndPricesAreReadFromTheEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := env.ParseAsWithOptions[platform.Config](env.Options{Environment: map[string]string{
		"IM_LLM_PROVIDER_0_KIND":                "openai",
		"IM_LLM_PROVIDER_0_MODEL":               "gpt-4o-mini-2024-07-18",
		"IM_LLM_PROVIDER_1_KIND":                "compatible",
		"IM_LLM_PROVIDER_1_NAME":                "vllm",
		"IM_LLM_PROVIDER_1_MODEL":               "meta-llama/Llama-3.1-8B-Instruct",
		"IM_LLM_PROVIDER_1_INPUT_USD_PER_MTOK":  "0.05",
		"IM_LLM_PROVIDER_1_OUTPUT_USD_PER_MTOK": "0.08",
		"IM_LLM_PROVIDER_2_KIND":                "compatible",
		"IM_LLM_PROVIDER_2_MODEL":               "llama3.1",
		"IM_LLM_BUDGET_TOKENS_PER_DAY":          "200000",
		"IM_LLM_BUDGET_USD_PER_MONTH":           "25.5",
	}})
	require.NoError(t, err)
	b := cfg.Consultant.Budget
	require.Equal(t, int64(200000), b.TokensPerDay)
	require.Zero(t, b.TokensPerMonth, "0 is unlimited")
	require.InDelta(t, 25.5, b.USDPerMonth, 0)

	prices, err := consultantrole.Prices(cfg.Consultant.Providers, false)
	require.NoError(t, err)
	require.InDelta(t, 0.15, prices["openai-0"].InputUSDPerMTok, 0)
	require.InDelta(t, 0.60, prices["openai-0"].OutputUSDPerMTok, 0)
	require.Contains(t, prices["openai-0"].Source, "platform.openai.com/docs/pricing")
	require.InDelta(t, 0.08, prices["vllm"].OutputUSDPerMTok, 0)
	require.Contains(t, prices["vllm"].Source, "IM_LLM_PROVIDER_1_INPUT_USD_PER_MTOK")
	require.NotContains(t, prices, "compatible-2", "a self-hosted model without price settings costs nothing")

	_, err = consultantrole.Prices(cfg.Consultant.Providers, true)
	require.ErrorContains(t, err, "IM_LLM_PROVIDER_2_INPUT_USD_PER_MTOK", "a dollar budget needs every provider priced")
}
