// Package secretsource builds the secret provider IM_SECRETS_PROVIDER
// names (env, file or Vault; see pkg/secrets and ADR 0008) for the roles that
// read a secret: the gateway's token keys and the consultant's API keys.
// Roles that read none (the families, the synthesizer) do not import it, so
// they link no Vault client.
package secretsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/secrets"
	"github.com/infra-mind/infra-mind/pkg/secrets/vault"
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
func LoadWithSecretEnv(load func() (platform.Config, error), environ []string) func() (platform.Config, error) {
	return func() (platform.Config, error) {
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
func NewSecretProvider(ctx context.Context, cfg platform.SecretsConfig) (secrets.Provider, error) {
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
		v, err := vault.New(vault.Config{
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
