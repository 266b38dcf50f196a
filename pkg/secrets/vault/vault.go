// Package vault serves secrets from HashiCorp Vault's KV v2 engine. It is
// its own package so only the processes that may read secrets from Vault
// (the gateway) link the Vault client; pkg/secrets has the port and the
// environment and file providers.
package vault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// Config says where the secrets live in Vault's KV v2 engine.
type Config struct {
	// Addr is Vault's base URL, e.g. https://vault.internal:8200.
	Addr string
	// Token authenticates (token auth); main reads it from a file.
	Token string
	// Mount is the KV v2 mount, e.g. "secret".
	Mount string
	// Path is the secret under the mount whose keys are the secret names,
	// e.g. "infra-mind/gateway"; rotating any key makes a new version.
	Path string
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// MaxRetries is how often a 5xx or a failed connection is retried.
	MaxRetries int
	// HTTPClient, when set, replaces the default client (tests, custom TLS).
	HTTPClient *http.Client
}

// Provider serves secrets from one KV v2 secret: each name is a key of it.
type Provider struct {
	client *vaultapi.Client
	kv     *vaultapi.KVv2
	cfg    Config
}

// New builds the client without contacting Vault; call Ping at start
// to learn whether it is reachable and unsealed.
func New(cfg Config) (*Provider, error) {
	switch {
	case cfg.Addr == "":
		return nil, errors.New("vault: address is required")
	case cfg.Token == "":
		return nil, errors.New("vault: token is required")
	case cfg.Mount == "" || cfg.Path == "":
		return nil, errors.New("vault: mount and path are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	// A Config built here, not vault.DefaultConfig(), so VAULT_* variables
	// do not silently override what main configured.
	vc := &vaultapi.Config{
		Address:    cfg.Addr,
		HttpClient: cfg.HTTPClient,
		Timeout:    cfg.Timeout,
		MaxRetries: cfg.MaxRetries,
	}
	if vc.HttpClient == nil {
		vc.HttpClient = &http.Client{Timeout: cfg.Timeout}
	}
	// Vault answers redirects itself; the client must not follow them.
	vc.HttpClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c, err := vaultapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	// NewClient also picks up VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS
	// from the process environment; undo all three so only main's settings count.
	c.SetToken(cfg.Token)
	c.ClearNamespace()
	c.SetHeaders(http.Header{vaultapi.RequestHeaderName: []string{"true"}})
	return &Provider{client: c, kv: c.KVv2(cfg.Mount), cfg: cfg}, nil
}

// Ping checks that Vault answers and is unsealed (sys/health).
func (v *Provider) Ping(ctx context.Context) error {
	h, err := v.client.Sys().HealthWithContext(ctx)
	if err != nil {
		return v.classify("health check", err)
	}
	if h.Sealed {
		return fmt.Errorf("vault at %s: %w", v.cfg.Addr, secrets.ErrSealed)
	}
	if !h.Initialized {
		return fmt.Errorf("vault at %s: %w (not initialized)", v.cfg.Addr, secrets.ErrSealed)
	}
	return nil
}

// Get implements Provider: the latest version.
func (v *Provider) Get(ctx context.Context, name string) (secrets.Secret, error) {
	if err := secrets.CheckName(name); err != nil {
		return secrets.Secret{}, err
	}
	s, err := v.kv.Get(ctx, v.cfg.Path)
	if err != nil {
		return secrets.Secret{}, v.classify("secret "+name, err)
	}
	return v.extract(name, s)
}

// GetVersion reads the named key at a specific version of the secret (for
// tokens signed before a rotation, or to roll back).
func (v *Provider) GetVersion(ctx context.Context, name string, version int) (secrets.Secret, error) {
	if err := secrets.CheckName(name); err != nil {
		return secrets.Secret{}, err
	}
	if version < 1 {
		return secrets.Secret{}, fmt.Errorf("secret %s: version must be 1 or more, got %d", name, version)
	}
	s, err := v.kv.GetVersion(ctx, v.cfg.Path, version)
	if err != nil {
		return secrets.Secret{}, v.classify(fmt.Sprintf("secret %s version %d", name, version), err)
	}
	return v.extract(name, s)
}

func (v *Provider) extract(name string, s *vaultapi.KVSecret) (secrets.Secret, error) {
	where := v.cfg.Mount + "/" + v.cfg.Path
	if s == nil || s.Data == nil {
		// KV v2 answers a deleted or destroyed version with metadata only.
		return secrets.Secret{}, fmt.Errorf("secret %s: %w (%s has no data at this version)", name, secrets.ErrNotFound, where)
	}
	raw, ok := s.Data[name]
	if !ok {
		return secrets.Secret{}, fmt.Errorf("secret %s: %w (no key %q in %s)", name, secrets.ErrNotFound, name, where)
	}
	str, ok := raw.(string)
	if !ok {
		return secrets.Secret{}, fmt.Errorf("secret %s: key %q in %s is %T, not a string", name, name, where, raw)
	}
	version := ""
	if s.VersionMetadata != nil {
		version = strconv.Itoa(s.VersionMetadata.Version)
	}
	return secrets.Secret{Value: []byte(str), Version: version}, nil
}

// classify turns the client's errors into the sentinels callers branch on.
func (v *Provider) classify(what string, err error) error {
	var re *vaultapi.ResponseError
	switch {
	case errors.Is(err, vaultapi.ErrSecretNotFound):
		return fmt.Errorf("%s: %w (%s/%s)", what, secrets.ErrNotFound, v.cfg.Mount, v.cfg.Path)
	case errors.As(err, &re) && re.StatusCode == http.StatusServiceUnavailable:
		return fmt.Errorf("%s: %w (%s)", what, secrets.ErrSealed, strings.Join(re.Errors, "; "))
	case errors.As(err, &re) && re.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %w (check the token's policy for %s/data/%s)", what, secrets.ErrPermissionDenied, v.cfg.Mount, v.cfg.Path)
	case errors.As(err, &re):
		return fmt.Errorf("%s: vault answered %d: %w", what, re.StatusCode, err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case isNetError(err):
		return fmt.Errorf("%s: %w at %s: %w", what, secrets.ErrUnreachable, v.cfg.Addr, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isNetError(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}
