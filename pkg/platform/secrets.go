package platform

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// Secret providers IM_SECRETS_PROVIDER may name.
const (
	SecretsEnv   = "env"
	SecretsFile  = "file"
	SecretsVault = "vault"
)

// LoadWithSecretEnv wraps a configuration parser so that Secrets.Env carries
// the IM_SECRET_* variables of environ. A service's main passes os.Environ(),
// so the env provider gets its values without anything below main reading
// the environment.
func LoadWithSecretEnv(load func() (Config, error), environ []string) func() (Config, error) {
	return func() (Config, error) {
		cfg, err := load()
		if err != nil {
			return cfg, err
		}
		cfg.Secrets.Env = secrets.EnvFromEnviron(environ)
		return cfg, nil
	}
}

// NewSecretProvider builds the provider cfg.Provider names, cached for
// cfg.CacheTTL; nil (and no error) when none is configured. For Vault it
// checks at once that Vault answers and is unsealed, so a process fails
// start with secrets.ErrSealed or secrets.ErrUnreachable rather than on its
// first request.
func NewSecretProvider(ctx context.Context, cfg SecretsConfig) (secrets.Provider, error) {
	var p secrets.Provider
	switch cfg.Provider {
	case "":
		return nil, nil
	case SecretsEnv:
		p = secrets.NewEnv(cfg.Env)
	case SecretsFile:
		if cfg.Dir == "" {
			return nil, errors.New("IM_SECRETS_DIR is required with IM_SECRETS_PROVIDER=file")
		}
		f, err := secrets.NewFile(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("IM_SECRETS_DIR: %w", err)
		}
		p = f
	case SecretsVault:
		if cfg.VaultTokenFile == "" {
			return nil, errors.New("IM_VAULT_TOKEN_FILE is required with IM_SECRETS_PROVIDER=vault")
		}
		tok, err := os.ReadFile(cfg.VaultTokenFile)
		if err != nil {
			return nil, fmt.Errorf("IM_VAULT_TOKEN_FILE: %w", err)
		}
		v, err := secrets.NewVault(secrets.VaultConfig{
			Addr: cfg.VaultAddr, Token: strings.TrimSpace(string(tok)),
			Mount: cfg.VaultMount, Path: cfg.VaultPath, MaxRetries: cfg.VaultMaxRetries,
		})
		if err != nil {
			return nil, err
		}
		if err := v.Ping(ctx); err != nil {
			return nil, fmt.Errorf("IM_SECRETS_PROVIDER=vault at start: %w", err)
		}
		p = v
	default:
		return nil, fmt.Errorf("IM_SECRETS_PROVIDER=%q: want %s, %s or %s", cfg.Provider, SecretsEnv, SecretsFile, SecretsVault)
	}
	return secrets.NewCached(p, cfg.CacheTTL, nil)
}

// NewGatewayVerifier builds the gateway's token verifier: from the secret
// IM_AUTH_PUBLIC_KEY_SECRET names when set, otherwise from the PEM file
// IM_AUTH_PUBLIC_KEY_FILE.
func NewGatewayVerifier(ctx context.Context, cfg Config) (*auth.Verifier, error) {
	g := cfg.Gateway
	if g.AuthPublicKeySecret == "" {
		if g.AuthPublicKeyFile == "" {
			return nil, errors.New("IM_AUTH_PUBLIC_KEY_FILE (or IM_AUTH_PUBLIC_KEY_SECRET with IM_SECRETS_PROVIDER) is required: the gateway verifies tokens with it")
		}
		pub, err := auth.LoadPublicKeyPEM(g.AuthPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("IM_AUTH_PUBLIC_KEY_FILE: %w", err)
		}
		return auth.NewVerifier(pub, g.AuthIssuer, g.AuthAudience), nil
	}
	p, err := NewSecretProvider(ctx, cfg.Secrets)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("IM_AUTH_PUBLIC_KEY_SECRET is set but IM_SECRETS_PROVIDER is not")
	}
	s, err := p.Get(ctx, g.AuthPublicKeySecret)
	if err != nil {
		return nil, fmt.Errorf("IM_AUTH_PUBLIC_KEY_SECRET: %w", err)
	}
	pub, err := parsePublicKeyPEM(s.Value)
	if err != nil {
		return nil, fmt.Errorf("IM_AUTH_PUBLIC_KEY_SECRET %s (version %s): %w", g.AuthPublicKeySecret, s.Version, err)
	}
	return auth.NewVerifier(pub, g.AuthIssuer, g.AuthAudience), nil
}

// parsePublicKeyPEM reads a PKIX "PUBLIC KEY" PEM Ed25519 key from memory,
// the format auth.WritePublicKeyPEM writes.
func parsePublicKeyPEM(b []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\" block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an ed25519 key", key)
	}
	return pub, nil
}
