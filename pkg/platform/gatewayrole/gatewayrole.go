// Package gatewayrole hosts the gateway: the public HTTP API with its
// sign-in service, its token keys (and the secret provider they may come
// from), the document store and the cache. Only processes that serve the
// API link it.
package gatewayrole

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/gateway"
	"github.com/infra-mind/infra-mind/pkg/identity"
	identityadapters "github.com/infra-mind/infra-mind/pkg/identity/adapters"
	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/consultantrole"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// Deps are the connections and keys a gateway is built on.
type Deps struct {
	Store   *store.Store
	Cache   *cache.Cache
	Catalog *catalog.Catalog
	// Keys is the token key ring: it signs tokens at sign-in and verifies
	// them. Nil means Add builds it with NewGatewayKeys from the
	// configuration, unless Verifier is set (a gateway that only verifies).
	Keys *auth.KeyRing
	// Verifier checks bearer tokens; nil means one on Keys.
	Verifier *auth.Verifier
}

// Gateway is a hosted gateway's parts others may use.
type Gateway struct {
	Server *gateway.Server
	// Keys is the token key ring (nil when Deps gave only a Verifier).
	Keys *auth.KeyRing
	// Identity is the sign-in service (nil without Keys); the development
	// command seeds its first users with it.
	Identity *identity.Service
}

// Role hosts the gateway, connecting the store and the cache and loading
// the catalogue itself.
func Role() platform.Role {
	return func(ctx context.Context, h *platform.Host) error {
		cfg := h.Config
		commands := h.Metrics.StoreCommands
		st, err := store.Connect(ctx, cfg.Store.MongoURI, cfg.Store.MongoDatabase,
			store.CountCommands(func(c string) { commands.WithLabelValues(c).Inc() }))
		if err != nil {
			return fmt.Errorf("connect to the document store: %w", err)
		}
		h.Adopt("store", st.Ping, st.Close)
		rm, err := readmodel.Use(ctx, h.Bus.JS, st, h.Logger)
		if err != nil {
			return err
		}
		// Assessments stored before the read model existed: copied once.
		h.Go(rm.BackfillTask(st.Database(), h.Logger))
		c, err := ConnectCache(ctx, h)
		if err != nil {
			return err
		}
		cat, err := catalog.Load()
		if err != nil {
			return fmt.Errorf("load the catalogue: %w", err)
		}
		_, err = Add(ctx, h, Deps{Store: st, Cache: c, Catalog: cat})
		return err
	}
}

// PurgeDurableName is the gateways' consumer of the purges of expired
// sign-in data that fell due. Never rename it.
const PurgeDurableName = "gateway-identity-purge"

// ConnectCache connects Redis and makes it part of h (its readiness check
// and its close).
func ConnectCache(ctx context.Context, h *platform.Host) (*cache.Cache, error) {
	c, err := cache.Connect(ctx, h.Config.Gateway.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("connect to Redis: %w", err)
	}
	h.Adopt("redis", c.Ping, func(context.Context) error { return c.Close() })
	return c, nil
}

// Add builds the gateway on d, listening when it returns, and adds it (with
// the purge of expired sign-in data and the erasure sweep) to h.
func Add(ctx context.Context, h *platform.Host, d Deps) (_ *Gateway, err error) {
	cfg := h.Config
	gw := &Gateway{Keys: d.Keys}
	if gw.Keys == nil && d.Verifier == nil {
		var stop func()
		if gw.Keys, stop, err = NewGatewayKeys(ctx, cfg, h.Logger); err != nil {
			return nil, err
		}
		h.OnClose(func(context.Context) { stop() })
	}
	v := d.Verifier
	if v == nil {
		v = auth.NewRingVerifier(gw.Keys, cfg.Gateway.AuthIssuer, cfg.Gateway.AuthAudience)
	}
	// With a signing key the gateway signs users in; a verifier-only
	// gateway (tests that pass one) accepts tokens and nothing else.
	if gw.Keys != nil {
		if cfg.Gateway.AuthPurgeInterval < 0 {
			return nil, fmt.Errorf("IM_AUTH_PURGE_INTERVAL must not be negative (0 turns the purge off), got %s",
				cfg.Gateway.AuthPurgeInterval)
		}
		totpCtx, stopTOTP := context.WithCancel(ctx)
		h.OnClose(func(context.Context) { stopTOTP() })
		var totpKeys *identity.TOTPKeyRing
		if totpKeys, err = NewTOTPKeys(totpCtx, cfg, h.Logger); err != nil {
			return nil, err
		}
		ports, err := identityadapters.Ports(d.Store, d.Cache.Client())
		if err != nil {
			return nil, fmt.Errorf("build identity service: %w", err)
		}
		var purges identity.PurgeScheduler
		if cfg.Gateway.AuthPurgeInterval > 0 {
			if purges, err = identityadapters.NewBusPurges(h.Bus, gateway.Source, cfg.Gateway.AuthPurgeInterval); err != nil {
				return nil, fmt.Errorf("IM_AUTH_PURGE_INTERVAL: %w", err)
			}
		}
		gw.Identity, err = identity.New(ports, gw.Keys.Signer(cfg.Gateway.AuthIssuer, cfg.Gateway.AuthAudience),
			identity.Options{AccessTTL: cfg.Gateway.AuthAccessTTL, RefreshTTL: cfg.Gateway.AuthRefreshTTL, Logger: h.Logger,
				TOTPKeys: totpKeys, Purges: purges})
		if err != nil {
			return nil, fmt.Errorf("build identity service: %w", err)
		}
	}
	// With a language model provider configured the gateway answers the
	// consultant's chat; without one the chat routes say it is off.
	var completer llm.Completer
	var llmKeys func() []string
	// Every tenant's language model use is counted (and shown at
	// GET /v1/usage/llm) against its budgets, shared with the consultant.
	ledger, err := consultantrole.NewLedger(cfg, d.Cache, h)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	if consultantrole.Enabled(cfg) {
		attempts, err := consultant.NewChatAttempts(h.Registry)
		if err != nil {
			return nil, err
		}
		router, err := consultantrole.NewRouter(ctx, cfg, h, attempts)
		if err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
		completer, llmKeys = router, router.Keys
		h.Logger.Info("chat on", "providers", strings.Join(router.Providers(), ", "))
	} else {
		h.Logger.Info("chat off: no language model provider is configured (IM_LLM_PROVIDER_0_KIND)")
	}
	ports, err := NewPorts(ctx, h.Bus, d.Store, d.Cache, PortsConfig{
		ReportCacheTTL: cfg.Gateway.ReportCacheTTL, MaxInFlight: cfg.Gateway.MaxInFlightAssessments})
	if err != nil {
		return nil, fmt.Errorf("build gateway: %w", err)
	}
	deps := ports.Deps()
	deps.Verifier, deps.Logger, deps.Metrics, deps.Registry, deps.Checks = v, h.Logger, h.Metrics, h.Registry, h.Checks()
	deps.TracerProvider = h.TracerProvider
	deps.Catalog, deps.Identity, deps.Keys = d.Catalog, gw.Identity, gw.Keys
	deps.LLM, deps.LLMSecrets, deps.LLMBudget = completer, llmKeys, ledger
	gw.Server, err = gateway.New(gateway.Config{
		Addr:                 cfg.Gateway.HTTPAddr,
		BodyLimit:            cfg.Gateway.BodyLimitBytes,
		AssessmentTimeout:    cfg.Gateway.AssessmentTimeout,
		KeepAlive:            cfg.Gateway.SSEKeepAlive,
		WebhookPolicy:        webhook.Policy{AllowPrivate: cfg.Webhook.AllowPrivate},
		TrustedProxies:       cfg.Gateway.TrustedProxies,
		ConsoleSecureCookies: cfg.Gateway.ConsoleSecureCookies,
		Limits: gateway.Limits{
			TenantRequests: cfg.Gateway.RateLimitTenant, UserRequests: cfg.Gateway.RateLimitUser,
			ExpensiveRequests: cfg.Gateway.RateLimitExpensive, RateWindow: cfg.Gateway.RateLimitWindow,
			AuthRequests:         cfg.Gateway.RateLimitAuth,
			MaxActiveAssessments: cfg.Gateway.MaxActiveAssessments, CORSAllowedOrigins: cfg.Gateway.CORSAllowedOrigins,
			MaxStreamsPerCredential: cfg.Gateway.MaxStreamsPerCredential, MaxStreamsPerTenant: cfg.Gateway.MaxStreamsPerTenant,
		},
		Chat: consultant.ChatConfig{MaxTokens: cfg.Consultant.ChatMaxTokens, MaxChars: cfg.Consultant.ChatMaxChars,
			ScenarioWait: cfg.Consultant.ChatScenarioWait},
	}, deps)
	if err != nil {
		return nil, fmt.Errorf("build gateway: %w", err)
	}
	if err := gw.Server.Listen(); err != nil {
		return nil, fmt.Errorf("gateway listen on %s: %w", cfg.Gateway.HTTPAddr, err)
	}
	h.Announce("gateway", gw.Server.Addr())
	h.Go(gw.Server.Serve)
	// Expired sign-in data is purged when it falls due: each sign-in
	// schedules a purge for when its session expires, and the broker
	// publishes it then to one gateway replica (ADR 0041); nothing reads the
	// store on a timer. Each start purges once too, which catches sessions
	// whose schedule could not be published. The deletes are idempotent, so
	// replicas purging at once only share the work. Run returns after the
	// consumer stops, so Close never pulls the store from under it.
	if gw.Identity != nil && cfg.Gateway.AuthPurgeInterval > 0 {
		h.Go(func(ctx context.Context) error {
			_ = gw.Identity.Purge(ctx) // logged; the next due purge tries again
			return h.Bus.Consume(ctx, PurgeDurableName, bus.PurgesDue(), func(ctx context.Context, e *bus.Event) ([]bus.Message, error) {
				due, err := bus.PurgeDue(e)
				if err != nil {
					return nil, err
				}
				if now := time.Now(); now.Before(due) {
					// Fired at a hop (the stream's retention would drop a
					// schedule held for longer): schedule the rest.
					return []bus.Message{bus.PurgeSchedule(gateway.Source, due, now)}, nil
				}
				return nil, gw.Identity.Purge(ctx)
			}, bus.DrainTimeout(cfg.ShutdownTimeout))
		})
	}
	// Every replica also sweeps erased assessments again once writers that
	// were running at the erasure have finished (idempotent as well).
	h.Go(func(ctx context.Context) error {
		gw.Server.RunErasureSweep(ctx)
		return nil
	})
	return gw, nil
}
