// Package platform is what every Infra Mind process shares: the
// configuration, the broker connection, telemetry, and the run and shutdown
// of the roles a process hosts. The roles themselves (familyrole, synthrole,
// gatewayrole) are subpackages, so each service links only what it runs;
// compose hosts any set of them in one process (development and tests).
package platform

import (
	"time"
)

// Common is the configuration every service reads from the environment.
type Common struct {
	NATSURL        string `env:"IM_NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	StreamReplicas int    `env:"IM_STREAM_REPLICAS" envDefault:"1"`
	LogLevel       string `env:"IM_LOG_LEVEL" envDefault:"info"`
	OTLPEndpoint   string `env:"IM_OTLP_ENDPOINT"`
	// TraceRootRatio is the share of the traces a service starts itself
	// that are sampled when OTLPEndpoint is set; a request or message that
	// arrives with a trace context keeps its sampling decision
	// (telemetry.SetupTracing).
	TraceRootRatio  float64       `env:"IM_TRACE_ROOT_RATIO" envDefault:"1"`
	MetricsAddr     string        `env:"IM_METRICS_ADDR" envDefault:":9090"`
	ShutdownTimeout time.Duration `env:"IM_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	Concurrency     int           `env:"IM_CONCURRENCY" envDefault:"4"`
	// Profiling serves Go's pprof profiles on the operations listener and
	// records blocking events (the block profile), for load tests; off in
	// production, where profiles would show internals to whoever reaches
	// that listener and block recording costs a little on every wait.
	Profiling bool `env:"IM_PPROF" envDefault:"false"`
}

// StoreConfig is read by the services that use the document store.
type StoreConfig struct {
	MongoURI      string `env:"IM_MONGO_URI" envDefault:"mongodb://127.0.0.1:27017"`
	MongoDatabase string `env:"IM_MONGO_DATABASE" envDefault:"inframind"`
}

// GatewayConfig is read by the gateway.
type GatewayConfig struct {
	HTTPAddr string `env:"IM_HTTP_ADDR" envDefault:":8080"`
	RedisURL string `env:"IM_REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	// The token signing key (PKCS#8 PEM Ed25519): from a file, or, when
	// AuthPrivateKeySecret names a secret, from the IM_SECRETS_PROVIDER,
	// re-read every AuthKeyRefreshInterval so a new version rotates it.
	AuthPrivateKeyFile   string `env:"IM_AUTH_PRIVATE_KEY_FILE"`
	AuthPrivateKeySecret string `env:"IM_AUTH_PRIVATE_KEY_SECRET"`
	// An optional bundle of extra verification-only public keys (PEM): the
	// previous or next keys of a planned rotation. Same two sources.
	AuthPublicKeyFile      string        `env:"IM_AUTH_PUBLIC_KEY_FILE"`
	AuthPublicKeySecret    string        `env:"IM_AUTH_PUBLIC_KEY_SECRET"`
	AuthKeyRefreshInterval time.Duration `env:"IM_AUTH_KEY_REFRESH_INTERVAL" envDefault:"1m"`
	// The key set that encrypts TOTP secrets at rest (identity.ParseTOTPKeys):
	// from a file read at start, or, when AuthTOTPKeysSecret names a secret,
	// from the IM_SECRETS_PROVIDER, re-read every AuthKeyRefreshInterval.
	// Neither: TOTP secrets are stored in plain text (a warning at start).
	AuthTOTPKeysFile   string `env:"IM_AUTH_TOTP_KEYS_FILE"`
	AuthTOTPKeysSecret string `env:"IM_AUTH_TOTP_KEYS_SECRET"`
	AuthIssuer         string `env:"IM_AUTH_ISSUER" envDefault:"infra-mind"`
	AuthAudience       string `env:"IM_AUTH_AUDIENCE" envDefault:"infra-mind-api"`
	// AuthAccessTTL is the lifetime of access tokens; a rotated-out signing
	// key keeps verifying for AuthAccessTTL plus the clock skew.
	AuthAccessTTL time.Duration `env:"IM_AUTH_ACCESS_TTL" envDefault:"15m"`
	// AuthRefreshTTL is the lifetime of a sign-in session's refresh tokens.
	AuthRefreshTTL time.Duration `env:"IM_AUTH_REFRESH_TTL" envDefault:"720h"`
	// AuthPurgeInterval is how late, at most, expired sessions, refresh
	// tokens and their use claims are deleted (the store has no TTL
	// indexes): purges are scheduled on the broker for when sessions
	// expire, rounded up to it (ADR 0041); 0 turns the purge off.
	AuthPurgeInterval time.Duration `env:"IM_AUTH_PURGE_INTERVAL" envDefault:"1h"`
	BodyLimitBytes    int64         `env:"IM_HTTP_BODY_LIMIT_BYTES" envDefault:"1048576"`
	AssessmentTimeout time.Duration `env:"IM_ASSESSMENT_TIMEOUT" envDefault:"2m"`
	SSEKeepAlive      time.Duration `env:"IM_SSE_KEEPALIVE" envDefault:"15s"`
	ReportCacheTTL    time.Duration `env:"IM_REPORT_CACHE_TTL" envDefault:"5m"`
	// Protection limits, shared by every gateway replica through Redis.
	RateLimitTenant    int           `env:"IM_RATE_LIMIT_TENANT" envDefault:"1200"`
	RateLimitUser      int           `env:"IM_RATE_LIMIT_USER" envDefault:"600"`
	RateLimitExpensive int           `env:"IM_RATE_LIMIT_EXPENSIVE" envDefault:"60"`
	RateLimitWindow    time.Duration `env:"IM_RATE_LIMIT_WINDOW" envDefault:"1m"`
	// RateLimitAuth bounds sign-in and refresh requests per client address
	// and window, before any tenant is known.
	RateLimitAuth int `env:"IM_RATE_LIMIT_AUTH" envDefault:"10"`
	// TrustedProxies are the CIDRs of reverse proxies whose X-Forwarded-For
	// is believed (comma separated); empty: the peer address is the client.
	TrustedProxies       []string `env:"IM_TRUSTED_PROXIES" envSeparator:","`
	MaxActiveAssessments int      `env:"IM_MAX_ACTIVE_ASSESSMENTS" envDefault:"20"`
	// MaxInFlightAssessments bounds the deployment's assessments in flight,
	// measured on the broker; 0 turns the bound off.
	MaxInFlightAssessments int `env:"IM_MAX_IN_FLIGHT_ASSESSMENTS" envDefault:"100"`
	// SSE stream caps: open event streams per credential and per tenant.
	MaxStreamsPerCredential int `env:"IM_SSE_MAX_STREAMS_PER_CREDENTIAL" envDefault:"10"`
	MaxStreamsPerTenant     int `env:"IM_SSE_MAX_STREAMS_PER_TENANT" envDefault:"100"`
	// CORSAllowedOrigins is comma separated; empty sends no CORS headers.
	CORSAllowedOrigins []string `env:"IM_CORS_ALLOWED_ORIGINS" envSeparator:","`
	// ConsoleSecureCookies marks the web console's session cookies Secure;
	// set false only to use the console over plain HTTP in development.
	ConsoleSecureCookies bool `env:"IM_CONSOLE_SECURE_COOKIES" envDefault:"true"`
}

// SynthConfig is read by the synthesizer.
type SynthConfig struct {
	// StallAfter: an overdue assessment waits while a family it needs (or
	// the synthesizer) has acknowledged work within this long.
	StallAfter time.Duration `env:"IM_FAMILY_STALL_AFTER" envDefault:"1m"`
}

// WebhookConfig is read by the gateway (which URLs may be registered) and
// the synthesizer (which delivers).
type WebhookConfig struct {
	// AllowPrivate is the development opt-in: plain http and private,
	// loopback and link-local receivers. Never true in production.
	AllowPrivate bool          `env:"IM_WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`
	Timeout      time.Duration `env:"IM_WEBHOOK_TIMEOUT" envDefault:"10s"`
	MaxAttempts  int           `env:"IM_WEBHOOK_MAX_ATTEMPTS" envDefault:"6"`
}

// SecretsConfig says where secrets come from (see pkg/secrets).
type SecretsConfig struct {
	// Provider is env, file or vault; empty means no provider (keys come
	// from their *_FILE settings).
	Provider        string        `env:"IM_SECRETS_PROVIDER"`
	Dir             string        `env:"IM_SECRETS_DIR"`
	VaultAddr       string        `env:"IM_VAULT_ADDR"`
	VaultTokenFile  string        `env:"IM_VAULT_TOKEN_FILE"`
	VaultMount      string        `env:"IM_VAULT_MOUNT" envDefault:"secret"`
	VaultPath       string        `env:"IM_VAULT_PATH" envDefault:"infra-mind"`
	VaultMaxRetries int           `env:"IM_VAULT_MAX_RETRIES" envDefault:"2"`
	CacheTTL        time.Duration `env:"IM_SECRETS_CACHE_TTL" envDefault:"1m"`
	// Env holds the IM_SECRET_* variables for the env provider; main fills
	// it (LoadWithSecretEnv), the parser does not.
	Env map[string]string `env:"-"`
}

// LLMProviderConfig is one language model provider of the consultant's
// ordered list: IM_LLM_PROVIDER_0_KIND, IM_LLM_PROVIDER_0_MODEL, ... for
// the first, IM_LLM_PROVIDER_1_* for the next (see pkg/llm).
type LLMProviderConfig struct {
	// Kind is openai, azure or compatible (vLLM, Ollama, any
	// OpenAI-compatible server).
	Kind string `env:"KIND"`
	// Name labels the provider in the report, logs and metrics (default: the kind and position).
	Name    string `env:"NAME"`
	BaseURL string `env:"BASE_URL"`
	Model   string `env:"MODEL"`
	// APIKeySecret names the API key in the IM_SECRETS_PROVIDER (never a
	// key itself); empty sends no key (a local server).
	APIKeySecret    string `env:"API_KEY_SECRET"`
	AzureDeployment string `env:"AZURE_DEPLOYMENT"`
	AzureAPIVersion string `env:"AZURE_API_VERSION"`
	// Timeout bounds one attempt; MaxRetries retries 429, 5xx and timeouts
	// on this provider; a Retry-After longer than MaxRetryAfter moves on.
	Timeout       time.Duration `env:"TIMEOUT" envDefault:"60s"`
	MaxRetries    int           `env:"MAX_RETRIES" envDefault:"2"`
	MaxRetryAfter time.Duration `env:"MAX_RETRY_AFTER" envDefault:"30s"`
	// InputUSDPerMTok and OutputUSDPerMTok price the provider's tokens (USD
	// per million) for the budgets, in place of the catalogue's hosted-API
	// row for Model; a self-hosted model has no row, so it is priced here or
	// costs nothing. Both 0: the catalogue's row, if any.
	InputUSDPerMTok  float64 `env:"INPUT_USD_PER_MTOK" envDefault:"0"`
	OutputUSDPerMTok float64 `env:"OUTPUT_USD_PER_MTOK" envDefault:"0"`
}

// LLMBudgetConfig is every tenant's language model budget (0: unlimited),
// counted by the gateway's chat and the consultant's narratives in Redis.
type LLMBudgetConfig struct {
	TokensPerDay   int64   `env:"IM_LLM_BUDGET_TOKENS_PER_DAY" envDefault:"0"`
	TokensPerMonth int64   `env:"IM_LLM_BUDGET_TOKENS_PER_MONTH" envDefault:"0"`
	USDPerDay      float64 `env:"IM_LLM_BUDGET_USD_PER_DAY" envDefault:"0"`
	USDPerMonth    float64 `env:"IM_LLM_BUDGET_USD_PER_MONTH" envDefault:"0"`
}

// ConsultantConfig is read by the consultant; with no provider it is off.
type ConsultantConfig struct {
	Providers []LLMProviderConfig `envPrefix:"IM_LLM_PROVIDER"`
	// HedgeDelay starts the next provider when one has not answered within
	// it (0: no hedging).
	HedgeDelay      time.Duration `env:"IM_LLM_HEDGE_DELAY" envDefault:"0s"`
	BreakerFailures int           `env:"IM_LLM_BREAKER_FAILURES" envDefault:"5"`
	BreakerCooldown time.Duration `env:"IM_LLM_BREAKER_COOLDOWN" envDefault:"30s"`
	// KeyRefreshInterval is how often API keys are re-read from the secret
	// provider, so a rotation takes effect without a restart.
	KeyRefreshInterval time.Duration `env:"IM_LLM_KEY_REFRESH_INTERVAL" envDefault:"1m"`
	// Budget is each tenant's tokens and USD per UTC day and month.
	Budget LLMBudgetConfig
	// Audiences are written for each assessment: cto, cfo, engineer.
	Audiences []string `env:"IM_CONSULTANT_AUDIENCES" envSeparator:"," envDefault:"cto"`
	MaxWords  int      `env:"IM_CONSULTANT_MAX_WORDS" envDefault:"180"`
	MaxTokens int      `env:"IM_CONSULTANT_MAX_TOKENS" envDefault:"400"`
	MaxChars  int      `env:"IM_CONSULTANT_MAX_CHARS" envDefault:"2000"`
	// The gateway's chat (on when a provider is configured): each
	// completion's token cap, the answer's character cap, and how long a
	// what-if waits for its report.
	ChatMaxTokens    int           `env:"IM_CHAT_MAX_TOKENS" envDefault:"600"`
	ChatMaxChars     int           `env:"IM_CHAT_MAX_CHARS" envDefault:"3000"`
	ChatScenarioWait time.Duration `env:"IM_CHAT_SCENARIO_WAIT" envDefault:"3m"`
}

// Config is everything a process may need; a service reads only its parts.
type Config struct {
	Common
	Secrets    SecretsConfig
	Store      StoreConfig
	Gateway    GatewayConfig
	Synth      SynthConfig
	Webhook    WebhookConfig
	Consultant ConsultantConfig
}
