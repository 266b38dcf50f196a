package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
	"github.com/infra-mind/infra-mind/pkg/platform/consultantrole"
	"github.com/infra-mind/infra-mind/pkg/secrets"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// runDev starts the embedded servers and every service in this process,
// seeds the demo tenant's owner and a platform operator, signs the owner
// in, runs the example assessment through the REST API with that token,
// then serves until ctx ends (Ctrl-C).
func runDev(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("dev", io)
	dataDir := fs.String("data", envOr(io.Env, "IM_DATA_DIR", "data"), "folder for the embedded servers' data, keys and reports")
	httpAddr := fs.String("http", envOr(io.Env, "IM_HTTP_ADDR", "127.0.0.1:8080"), "gateway listen address")
	example := fs.String("example", "examples/chatbot-70b-hipaa-us.yaml", "request to submit at start (empty: none)")
	logLevel := fs.String("log-level", envOr(io.Env, "IM_LOG_LEVEL", "warn"), "log level of the services (debug, info, warn, error)")
	exit := fs.Bool("exit-after-example", false, "stop after the example assessment ends (for scripts)")
	metricsAddr := fs.String("metrics", envOr(io.Env, "IM_METRICS_ADDR", "127.0.0.1:0"), "operations listener for /metrics and detailed /readyz (port 0: any free port, printed at start)")
	natsURL := fs.String("nats", envOr(io.Env, "IM_NATS_URL", ""), "external NATS server with JetStream (empty: an embedded one)")
	mongoURI := fs.String("mongo", envOr(io.Env, "IM_MONGO_URI", ""), "external MongoDB-protocol store, MongoDB or FerretDB (empty: an embedded FerretDB on SQLite)")
	mongoDB := fs.String("mongo-database", envOr(io.Env, "IM_MONGO_DATABASE", "inframind"), "database of the store")
	redisURL := fs.String("redis", envOr(io.Env, "IM_REDIS_URL", ""), "external Redis or Valkey (empty: an embedded Redis-protocol server)")
	allowPrivate := fs.Bool("webhook-allow-private", true, "let webhooks reach plain http and private addresses, such as a receiver on this machine (false: the production policy)")
	if err := parse(fs, args); err != nil {
		return err
	}
	timeout, err := envDuration(io.Env, "IM_ASSESSMENT_TIMEOUT", 2*time.Minute)
	if err != nil {
		return usageError{err}
	}

	log, err := telemetry.NewLogger(io.Stderr, "infra-mind-dev", *logLevel)
	if err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: *dataDir, Logger: log,
		SkipNATS: *natsURL != "", SkipMongo: *mongoURI != "", SkipRedis: *redisURL != ""})
	if err != nil {
		return err
	}
	defer stack.Close()
	for _, ext := range []struct {
		what string
		url  *string
		own  string
	}{{"NATS", natsURL, stack.NATSURL}, {"store", mongoURI, stack.MongoURI}, {"Redis", redisURL, stack.RedisURL}} {
		if *ext.url == "" {
			*ext.url = ext.own
		} else {
			fmt.Fprintf(io.Stdout, "using the external %s at %s\n", ext.what, redactURL(*ext.url))
		}
	}

	key, created, err := ensureKeys(filepath.Join(*dataDir, "keys"))
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(io.Stdout, "generated a development signing key in %s\n", filepath.Join(*dataDir, "keys"))
	}
	totpKeys, createdTOTP, err := ensureTOTPKeys(filepath.Join(*dataDir, "keys"))
	if err != nil {
		return err
	}
	if createdTOTP {
		fmt.Fprintf(io.Stdout, "generated a development key set for TOTP secrets in %s\n", totpKeys)
	}
	// The gateway signs and verifies with this ring.
	keys, err := auth.NewKeyRing(key)
	if err != nil {
		return fmt.Errorf("development signing key: %w", err)
	}

	if *allowPrivate {
		fmt.Fprintln(io.Stdout, "webhooks may reach plain http and private addresses (development; --webhook-allow-private=false applies the production policy)")
	} else {
		fmt.Fprintln(io.Stdout, "webhooks follow the production policy: https to public addresses only")
	}

	consult, err := consultantSettings(io)
	if err != nil {
		return usageError{err}
	}
	if consultantrole.Enabled(consult) {
		fmt.Fprintf(io.Stdout, "the consultant writes narratives with %d language model provider(s) (IM_LLM_PROVIDER_<n>_*)\n", len(consult.Consultant.Providers))
	}

	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewMetrics(reg)
	if err != nil {
		return err
	}
	cfg := platform.Config{
		Consultant: consult.Consultant,
		Secrets:    consult.Secrets,
		Common: platform.Common{
			NATSURL: *natsURL, StreamReplicas: 1, LogLevel: *logLevel, MetricsAddr: *metricsAddr,
			ShutdownTimeout: 10 * time.Second, Concurrency: 4,
		},
		Store: platform.StoreConfig{MongoURI: *mongoURI, MongoDatabase: *mongoDB},
		Gateway: platform.GatewayConfig{
			HTTPAddr: *httpAddr, RedisURL: *redisURL, AuthIssuer: devIssuer, AuthAudience: devAudience,
			AuthAccessTTL: 15 * time.Minute, AuthRefreshTTL: 720 * time.Hour, AuthPurgeInterval: time.Hour,
			BodyLimitBytes: 1 << 20, AssessmentTimeout: timeout, SSEKeepAlive: 15 * time.Second,
			ReportCacheTTL: 5 * time.Minute, AuthTOTPKeysFile: totpKeys,
			// The console is served over plain HTTP on this machine.
			ConsoleSecureCookies: false,
		},
		// Development: webhooks may point at receivers on this machine unless turned off.
		Webhook: platform.WebhookConfig{AllowPrivate: *allowPrivate, Timeout: 10 * time.Second, MaxAttempts: 6},
	}
	p, err := compose.New(ctx, cfg, compose.AllRoles(), compose.Deps{
		Logger: log, Registry: reg, Metrics: metrics, Keys: keys,
		// The embedded broker is reached over an in-memory pipe; an external one (nil here) over TCP.
		NATSInProcess: stack.NATSInProcess(),
	})
	if err != nil {
		return err
	}
	defer p.Close(context.WithoutCancel(ctx))
	creds, err := seedDev(ctx, p.Identity, *dataDir)
	if err != nil {
		return err
	}
	token, how, err := devToken(ctx, p.Identity, keys, creds.Owner)
	if err != nil {
		return err
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()

	base := "http://" + p.GatewayAddr()
	fmt.Fprintf(io.Stdout, `
Console: %s/   (open it in a browser; sign in with the owner below)
Infra Mind is running (embedded NATS JetStream, FerretDB and Redis under %s).
  API:      %s   (OpenAPI: %s/openapi.json)
  metrics:  http://%s/metrics   (operations listener; also /readyz with each dependency)
%s%s            passwords are generated on first start and kept in %s
  token:    %s
            (%s)
`, base, *dataDir, base, base, p.MetricsAddr(), accountLine("owner", creds.Owner), accountLine("operator", creds.Operator),
		filepath.Join(*dataDir, devCredentialsFile), token, how)
	if creds.Owner.Password != "" {
		fmt.Fprintf(io.Stdout, "  sign in:  export IM_TOKEN=$(IM_PASSWORD=%s go run ./services/cli login --url %s --tenant %s --email %s)\n",
			creds.Owner.Password, base, creds.Owner.Tenant, creds.Owner.Email)
	}
	fmt.Fprintf(io.Stdout, `  try:      curl -H "Authorization: Bearer $IM_TOKEN" %s/v1/assessments
  assess:   IM_TOKEN=<token> go run ./services/cli assess -f examples/startup-rag.yaml --url %s
`, base, base)

	if *example != "" {
		if err := runExample(runCtx, base, token, *example, *dataDir, io); err != nil {
			stop()
			<-done
			return err
		}
	}
	if *exit {
		stop()
	} else {
		fmt.Fprintln(io.Stdout, "\nServing until Ctrl-C.")
	}
	err = <-done
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	fmt.Fprintln(io.Stdout, "stopped cleanly")
	return nil
}

func runExample(ctx context.Context, base, token, path, dataDir string, io IO) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read example %s: %w", path, err)
	}
	c, err := client.New(base, token, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "\nSubmitting %s through the API...\n", path)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	acc, status, err := submitAndFollow(ctx, c, body, contentTypeOf(path), true, func(id string) string {
		return filepath.Join(dataDir, "reports", id+".json")
	}, io.Stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "\nAssessment %s ended %s. Its report is at %s/v1/assessments/%s/report\nand saved in %s\n",
		acc, status, base, acc, filepath.Join(dataDir, "reports", acc+".json"))
	return nil
}

// accountLine is one seeded account in the printed block.
func accountLine(label string, a devAccount) string {
	head := fmt.Sprintf("  %-9s tenant %s, email %s, password", label+":", a.Tenant, a.Email)
	if a.status == accountUnknown {
		return head + " unknown   (made by an earlier run, missing from the credentials file; delete the data folder to start afresh)\n"
	}
	return fmt.Sprintf("%s %s   (%s)\n", head, a.Password, a.status)
}

// consultantSettings reads the consultant's settings (IM_LLM_*,
// IM_CONSULTANT_*) and the secret provider for its API keys
// (IM_SECRETS_*, IM_SECRET_*) with the same parser and defaults as the
// services. None set: the consultant stays off.
func consultantSettings(io IO) (platform.Config, error) {
	if io.Environ == nil {
		return env.ParseAsWithOptions[platform.Config](env.Options{Environment: map[string]string{}})
	}
	environ := io.Environ()
	cfg, err := env.ParseAsWithOptions[platform.Config](env.Options{Environment: env.ToMap(environ)})
	if err != nil {
		return platform.Config{}, fmt.Errorf("consultant settings: %w", err)
	}
	cfg.Secrets.Env = secrets.EnvFromEnviron(environ)
	return cfg, nil
}

// redactURL shows a server address without the password it may carry.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an address that is not a URL)"
	}
	return u.Redacted()
}
