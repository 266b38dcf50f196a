package gatewayrole

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/secretsource"
	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// Secret providers IM_SECRETS_PROVIDER may name (see secretsource).
const (
	SecretsEnv   = secretsource.SecretsEnv
	SecretsFile  = secretsource.SecretsFile
	SecretsVault = secretsource.SecretsVault
)

// LoadWithSecretEnv is secretsource.LoadWithSecretEnv.
func LoadWithSecretEnv(load func() (platform.Config, error), environ []string) func() (platform.Config, error) {
	return secretsource.LoadWithSecretEnv(load, environ)
}

// NewSecretProvider is secretsource.NewSecretProvider.
func NewSecretProvider(ctx context.Context, cfg platform.SecretsConfig) (secrets.Provider, error) {
	return secretsource.NewSecretProvider(ctx, cfg)
}

// checkKeySource says what is wrong with one key's pair of settings.
func checkKeySource(k auth.KeySource, required bool) error {
	switch {
	case k.File != "" && k.Secret != "":
		return fmt.Errorf("set one of %s and %s, not both", k.FileSetting, k.SecretSetting)
	case required && k.File == "" && k.Secret == "":
		return fmt.Errorf("%s or %s (with IM_SECRETS_PROVIDER) is required: the gateway signs and verifies access tokens with it",
			k.FileSetting, k.SecretSetting)
	}
	return nil
}

// NewGatewayKeys builds the gateway's token key ring from its settings (see
// auth.LoadKeyRing for the keys' lifecycle). The signing key comes from
// IM_AUTH_PRIVATE_KEY_FILE or, with IM_AUTH_PRIVATE_KEY_SECRET, from the
// secret provider, re-read every IM_AUTH_KEY_REFRESH_INTERVAL; the previous
// key keeps verifying for IM_AUTH_ACCESS_TTL plus the clock skew. The
// optional public-key bundle (IM_AUTH_PUBLIC_KEY_FILE or _SECRET) adds
// verification-only keys. The provider is built only when a key names a
// secret. stop ends the re-reads; they also end with ctx.
func NewGatewayKeys(ctx context.Context, cfg platform.Config, log *slog.Logger) (_ *auth.KeyRing, stop func(), err error) {
	g := cfg.Gateway
	if log == nil {
		return nil, nil, errors.New("gateway keys: logger is required")
	}
	priv := auth.KeySource{FileSetting: "IM_AUTH_PRIVATE_KEY_FILE", SecretSetting: "IM_AUTH_PRIVATE_KEY_SECRET",
		File: g.AuthPrivateKeyFile, Secret: g.AuthPrivateKeySecret}
	pub := auth.KeySource{FileSetting: "IM_AUTH_PUBLIC_KEY_FILE", SecretSetting: "IM_AUTH_PUBLIC_KEY_SECRET",
		File: g.AuthPublicKeyFile, Secret: g.AuthPublicKeySecret}
	if err := checkKeySource(priv, true); err != nil {
		return nil, nil, err
	}
	if err := checkKeySource(pub, false); err != nil {
		return nil, nil, err
	}
	if g.AuthAccessTTL <= 0 {
		return nil, nil, fmt.Errorf("IM_AUTH_ACCESS_TTL must be positive, got %s", g.AuthAccessTTL)
	}

	var provider secrets.Provider
	if priv.Secret != "" || pub.Secret != "" {
		if g.AuthKeyRefreshInterval <= 0 {
			return nil, nil, fmt.Errorf("IM_AUTH_KEY_REFRESH_INTERVAL must be positive, got %s", g.AuthKeyRefreshInterval)
		}
		if provider, err = NewSecretProvider(ctx, cfg.Secrets); err != nil {
			return nil, nil, err
		}
		if provider == nil {
			name := priv.SecretSetting
			if priv.Secret == "" {
				name = pub.SecretSetting
			}
			return nil, nil, fmt.Errorf("%s is set but IM_SECRETS_PROVIDER is not", name)
		}
	}
	return auth.LoadKeyRing(ctx, auth.KeySources{
		Signing: priv, Verification: pub, Provider: provider,
		Refresh: g.AuthKeyRefreshInterval, Retain: g.AuthAccessTTL + auth.ClockSkew, Logger: log,
	})
}

// NewTOTPKeys builds the key ring that encrypts TOTP secrets at rest: from
// IM_AUTH_TOTP_KEYS_FILE (read once), or from the secret
// IM_AUTH_TOTP_KEYS_SECRET names, re-read every IM_AUTH_KEY_REFRESH_INTERVAL
// until ctx ends so a new version rotates the keys. Nil (and no error) when
// neither is set.
func NewTOTPKeys(ctx context.Context, cfg platform.Config, log *slog.Logger) (*identity.TOTPKeyRing, error) {
	g := cfg.Gateway
	switch {
	case g.AuthTOTPKeysFile != "" && g.AuthTOTPKeysSecret != "":
		return nil, errors.New("set one of IM_AUTH_TOTP_KEYS_FILE and IM_AUTH_TOTP_KEYS_SECRET, not both")
	case g.AuthTOTPKeysFile != "":
		b, err := os.ReadFile(g.AuthTOTPKeysFile)
		if err != nil {
			return nil, fmt.Errorf("IM_AUTH_TOTP_KEYS_FILE: %w", err)
		}
		k, err := identity.ParseTOTPKeys(b)
		if err != nil {
			return nil, fmt.Errorf("IM_AUTH_TOTP_KEYS_FILE %s: %w", g.AuthTOTPKeysFile, err)
		}
		return identity.NewTOTPKeyRing(k), nil
	case g.AuthTOTPKeysSecret != "":
		if g.AuthKeyRefreshInterval <= 0 {
			return nil, fmt.Errorf("IM_AUTH_KEY_REFRESH_INTERVAL must be positive, got %s", g.AuthKeyRefreshInterval)
		}
		provider, err := NewSecretProvider(ctx, cfg.Secrets)
		if err != nil {
			return nil, err
		}
		if provider == nil {
			return nil, errors.New("IM_AUTH_TOTP_KEYS_SECRET is set but IM_SECRETS_PROVIDER is not")
		}
		ring, err := identity.WatchTOTPKeys(ctx, provider, g.AuthTOTPKeysSecret, g.AuthKeyRefreshInterval, log)
		if err != nil {
			return nil, fmt.Errorf("IM_AUTH_TOTP_KEYS_SECRET: %w", err)
		}
		return ring, nil
	}
	return nil, nil
}
