// Package consultantrole hosts the consultant: it writes each finished
// assessment's narrative with the configured language model providers and
// stores it. With no provider configured it adds nothing, and the system
// runs exactly as without it.
package consultantrole

import (
	"context"
	"fmt"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/secretsource"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/secrets"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// Enabled says whether cfg configures a provider.
func Enabled(cfg platform.Config) bool { return len(cfg.Consultant.Providers) > 0 }

// Role hosts the consultant, connecting the document store itself; off
// (nothing added) without a provider.
func Role() platform.Role {
	return func(ctx context.Context, h *platform.Host) error {
		if !Enabled(h.Config) {
			h.Logger.Info("consultant off: no language model provider is configured (IM_LLM_PROVIDER_0_KIND)")
			return nil
		}
		st, err := store.Connect(ctx, h.Config.Store.MongoURI, h.Config.Store.MongoDatabase)
		if err != nil {
			return fmt.Errorf("connect to the document store: %w", err)
		}
		h.Adopt("store", st.Ping, st.Close)
		if _, err := readmodel.Use(ctx, h.Bus.JS, st, h.Logger); err != nil {
			return err
		}
		// The tenants' language model budgets are counted in Redis, shared
		// with the gateway's chat.
		c, err := cache.Connect(ctx, h.Config.Gateway.RedisURL)
		if err != nil {
			return fmt.Errorf("connect to Redis: %w", err)
		}
		h.Adopt("redis", c.Ping, func(context.Context) error { return c.Close() })
		return Add(ctx, h, st, c)
	}
}

// Add builds the consultant on st, counting the tenants' language model use
// in c, and adds it to h; off without a provider.
func Add(ctx context.Context, h *platform.Host, st *store.Store, c *cache.Cache) error {
	cfg := h.Config
	if !Enabled(cfg) {
		return nil
	}
	m, err := consultant.NewMetrics(h.Registry)
	if err != nil {
		return err
	}
	router, err := NewRouter(ctx, cfg, h, m.Attempt)
	if err != nil {
		return err
	}
	ledger, err := NewLedger(cfg, c, h)
	if err != nil {
		return err
	}
	w, err := consultant.NewWriter(router, consultant.WriterConfig{
		MaxWords: cfg.Consultant.MaxWords, MaxTokens: cfg.Consultant.MaxTokens, MaxChars: cfg.Consultant.MaxChars,
	}, m)
	if err != nil {
		return err
	}
	tombstones, err := progress.Open(ctx, h.Bus.JS)
	if err != nil {
		return err
	}
	svc, err := consultant.New(h.Bus, st.Reports, st.Narratives, w, consultant.Config{
		Audiences: cfg.Consultant.Audiences, Concurrency: cfg.Concurrency, DrainTimeout: cfg.ShutdownTimeout,
		Erasures: tombstones, Budget: ledger,
	}, h.Logger)
	if err != nil {
		return err
	}
	h.Logger.Info("consultant on", "providers", strings.Join(router.Providers(), ", "), "audiences", strings.Join(cfg.Consultant.Audiences, ","))
	h.Go(svc.Run)
	return nil
}

// NewRouter builds the ordered provider list from the IM_LLM_* settings.
// API keys are read from the IM_SECRETS_PROVIDER and re-read every
// IM_LLM_KEY_REFRESH_INTERVAL until the host closes. onAttempt (may be nil)
// is told each attempt's provider and outcome.
func NewRouter(ctx context.Context, cfg platform.Config, h *platform.Host, onAttempt func(provider, outcome string)) (*llm.Router, error) {
	var provider secrets.Provider
	watchCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h.OnClose(func(context.Context) { stop() })
	var out []llm.ProviderConfig
	for i, p := range cfg.Consultant.Providers {
		setting := fmt.Sprintf("IM_LLM_PROVIDER_%d_", i)
		name := providerName(p, i)
		pc := llm.ProviderConfig{
			Name: name, Kind: p.Kind, BaseURL: p.BaseURL, Model: p.Model,
			AzureDeployment: p.AzureDeployment, AzureAPIVersion: p.AzureAPIVersion,
			Timeout: p.Timeout, MaxRetries: p.MaxRetries, MaxRetryAfter: p.MaxRetryAfter,
		}
		if p.APIKeySecret != "" {
			if provider == nil {
				var err error
				if provider, err = secretsource.NewSecretProvider(ctx, cfg.Secrets); err != nil {
					return nil, err
				}
				if provider == nil {
					return nil, fmt.Errorf("%sAPI_KEY_SECRET names a secret, but IM_SECRETS_PROVIDER is not set", setting)
				}
			}
			key, err := llm.WatchKey(watchCtx, provider, p.APIKeySecret, cfg.Consultant.KeyRefreshInterval, h.Logger)
			if err != nil {
				return nil, fmt.Errorf("%sAPI_KEY_SECRET: %w", setting, err)
			}
			pc.Key = key
		} else if p.Kind == llm.KindOpenAI || p.Kind == llm.KindAzure {
			return nil, fmt.Errorf("%sAPI_KEY_SECRET is required for kind %s", setting, p.Kind)
		}
		if err := pc.Validate(); err != nil {
			return nil, fmt.Errorf("%s*: %w", setting, err)
		}
		out = append(out, pc)
	}
	return llm.New(llm.Config{
		Providers: out, HedgeDelay: cfg.Consultant.HedgeDelay,
		BreakerFailures: cfg.Consultant.BreakerFailures, BreakerCooldown: cfg.Consultant.BreakerCooldown,
		Logger: h.Logger, OnAttempt: onAttempt,
	})
}

// providerName is the configured name of the i-th provider, or its kind
// and position.
func providerName(p platform.LLMProviderConfig, i int) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprintf("%s-%d", p.Kind, i)
}

// NewLedger builds the tenants' language model budgets (IM_LLM_BUDGET_*)
// on c. Each provider is priced by its IM_LLM_PROVIDER_<n>_*_USD_PER_MTOK
// settings, or else by the catalogue's hosted-API row of its model (with
// the row's source); a provider with neither costs nothing, which a dollar
// budget cannot allow. Metrics of the use per tenant go to h's registry.
func NewLedger(cfg platform.Config, c *cache.Cache, h *platform.Host) (*budget.Ledger, error) {
	b := cfg.Consultant.Budget
	limits := budget.Limits{TokensPerDay: b.TokensPerDay, TokensPerMonth: b.TokensPerMonth, USDPerDay: b.USDPerDay, USDPerMonth: b.USDPerMonth}
	if err := limits.Validate(); err != nil {
		return nil, fmt.Errorf("IM_LLM_BUDGET_*: %w", err)
	}
	prices, err := Prices(cfg.Consultant.Providers, limits.USDBudgeted())
	if err != nil {
		return nil, err
	}
	m, err := budget.NewMetrics(h.Registry)
	if err != nil {
		return nil, err
	}
	l, err := budget.New(c.Client(), limits, prices, budget.Options{Metrics: m, Logger: h.Logger})
	if err != nil {
		return nil, err
	}
	for name, p := range prices {
		h.Logger.Info("llm provider priced", "provider", name, "input_usd_per_mtok", p.InputUSDPerMTok,
			"output_usd_per_mtok", p.OutputUSDPerMTok, "source", p.Source)
	}
	return l, nil
}

// Prices are the providers' prices by name: the provider's price settings,
// or the catalogue's hosted-API row of its model; a provider with neither
// is left out (it costs nothing), unless needed (a dollar budget is set):
// then it is an error naming the settings to set.
func Prices(providers []platform.LLMProviderConfig, needed bool) (map[string]budget.Price, error) {
	out := map[string]budget.Price{}
	var rows []catalog.HostedAPI
	for i, p := range providers {
		setting := fmt.Sprintf("IM_LLM_PROVIDER_%d_", i)
		if p.InputUSDPerMTok < 0 || p.OutputUSDPerMTok < 0 {
			return nil, fmt.Errorf("%sINPUT_USD_PER_MTOK and %sOUTPUT_USD_PER_MTOK may not be negative", setting, setting)
		}
		if p.InputUSDPerMTok > 0 || p.OutputUSDPerMTok > 0 {
			out[providerName(p, i)] = budget.Price{InputUSDPerMTok: p.InputUSDPerMTok, OutputUSDPerMTok: p.OutputUSDPerMTok,
				Source: "settings " + setting + "INPUT_USD_PER_MTOK and " + setting + "OUTPUT_USD_PER_MTOK"}
			continue
		}
		if rows == nil {
			cat, err := catalog.Load()
			if err != nil {
				return nil, fmt.Errorf("load the catalogue: %w", err)
			}
			rows = cat.HostedAPIs
		}
		price, ok := budget.CataloguePrice(rows, p.Model)
		if ok {
			out[providerName(p, i)] = price
			continue
		}
		if needed {
			return nil, fmt.Errorf("a USD budget is set (IM_LLM_BUDGET_USD_PER_*), but provider %s's model %q has no price in the catalogue: "+
				"set %sINPUT_USD_PER_MTOK and %sOUTPUT_USD_PER_MTOK", providerName(p, i), p.Model, setting, setting)
		}
	}
	return out, nil
}
