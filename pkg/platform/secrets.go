package platform

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

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

// keySource is one key's pair of settings: a file read once at start, or a
// secret re-read from the provider. The *Setting fields are the variables'
// names, so errors say what an operator must fix.
type keySource struct {
	fileSetting, secretSetting string
	file, secret               string
}

func (k keySource) check(required bool) error {
	switch {
	case k.file != "" && k.secret != "":
		return fmt.Errorf("set one of %s and %s, not both", k.fileSetting, k.secretSetting)
	case required && k.file == "" && k.secret == "":
		return fmt.Errorf("%s or %s (with IM_SECRETS_PROVIDER) is required: the gateway signs and verifies access tokens with it",
			k.fileSetting, k.secretSetting)
	}
	return nil
}

// NewGatewayKeys builds the gateway's token key ring. The signing key comes
// from IM_AUTH_PRIVATE_KEY_FILE or, with IM_AUTH_PRIVATE_KEY_SECRET, from
// the secret provider, re-read every IM_AUTH_KEY_REFRESH_INTERVAL: a new
// version becomes the signing key and the previous one keeps verifying for
// IM_AUTH_ACCESS_TTL plus the clock skew, so no token it signed is cut short.
// The optional public-key bundle (IM_AUTH_PUBLIC_KEY_FILE or _SECRET, the
// latter re-read the same way) adds verification-only keys. A bad new
// version is logged and the last good keys stay in use. stop ends the
// re-reads; they also end with ctx.
func NewGatewayKeys(ctx context.Context, cfg Config, log *slog.Logger) (_ *auth.KeyRing, stop func(), err error) {
	g := cfg.Gateway
	if log == nil {
		return nil, nil, errors.New("gateway keys: logger is required")
	}
	priv := keySource{"IM_AUTH_PRIVATE_KEY_FILE", "IM_AUTH_PRIVATE_KEY_SECRET", g.AuthPrivateKeyFile, g.AuthPrivateKeySecret}
	pub := keySource{"IM_AUTH_PUBLIC_KEY_FILE", "IM_AUTH_PUBLIC_KEY_SECRET", g.AuthPublicKeyFile, g.AuthPublicKeySecret}
	if err := priv.check(true); err != nil {
		return nil, nil, err
	}
	if err := pub.check(false); err != nil {
		return nil, nil, err
	}
	if g.AuthAccessTTL <= 0 {
		return nil, nil, fmt.Errorf("IM_AUTH_ACCESS_TTL must be positive, got %s", g.AuthAccessTTL)
	}
	retain := g.AuthAccessTTL + auth.ClockSkew

	var provider secrets.Provider
	if priv.secret != "" || pub.secret != "" {
		if g.AuthKeyRefreshInterval <= 0 {
			return nil, nil, fmt.Errorf("IM_AUTH_KEY_REFRESH_INTERVAL must be positive, got %s", g.AuthKeyRefreshInterval)
		}
		if provider, err = NewSecretProvider(ctx, cfg.Secrets); err != nil {
			return nil, nil, err
		}
		if provider == nil {
			name := priv.secretSetting
			if priv.secret == "" {
				name = pub.secretSetting
			}
			return nil, nil, fmt.Errorf("%s is set but IM_SECRETS_PROVIDER is not", name)
		}
	}

	wctx, cancel := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	var ring *auth.KeyRing
	if priv.file != "" {
		k, err := auth.LoadPrivateKeyPEM(priv.file)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", priv.fileSetting, err)
		}
		if ring, err = auth.NewKeyRing(k); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", priv.fileSetting, err)
		}
	} else {
		// The watcher may see a new version before the ring exists; it waits.
		ready := make(chan struct{})
		first, err := secrets.Watch(wctx, provider, priv.secret, g.AuthKeyRefreshInterval, func(s secrets.Secret) {
			select {
			case <-ready:
			case <-wctx.Done():
				return
			}
			rotateSigningKey(ring, s, priv, retain, log)
		}, watchErrorLogger(priv, log))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", priv.secretSetting, err)
		}
		k, err := auth.ParsePrivateKeyPEM(first.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s (version %s): %w", priv.secretSetting, priv.secret, first.Version, err)
		}
		if ring, err = auth.NewKeyRing(k); err != nil {
			return nil, nil, fmt.Errorf("%s %s (version %s): %w", priv.secretSetting, priv.secret, first.Version, err)
		}
		close(ready)
	}

	switch {
	case pub.file != "":
		b, err := os.ReadFile(pub.file)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pub.fileSetting, err)
		}
		if err := setVerificationKeys(ring, b); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", pub.fileSetting, pub.file, err)
		}
	case pub.secret != "":
		first, err := secrets.Watch(wctx, provider, pub.secret, g.AuthKeyRefreshInterval, func(s secrets.Secret) {
			if err := setVerificationKeys(ring, s.Value); err != nil {
				log.Error("the public-key bundle's new version is not usable; keeping the previous keys",
					"setting", pub.secretSetting, "secret", pub.secret, "version", s.Version, "error", err)
				return
			}
			log.Info("replaced the verification-only token keys", "setting", pub.secretSetting, "secret", pub.secret,
				"version", s.Version, "kids", ringKIDs(ring))
		}, watchErrorLogger(pub, log))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pub.secretSetting, err)
		}
		if err := setVerificationKeys(ring, first.Value); err != nil {
			return nil, nil, fmt.Errorf("%s %s (version %s): %w", pub.secretSetting, pub.secret, first.Version, err)
		}
	}
	log.Info("token keys loaded", "signing_kid", ring.CurrentKeyID(), "kids", ringKIDs(ring))
	return ring, cancel, nil
}

// rotateSigningKey applies a new version of the signing-key secret.
func rotateSigningKey(ring *auth.KeyRing, s secrets.Secret, src keySource, retain time.Duration, log *slog.Logger) {
	k, err := auth.ParsePrivateKeyPEM(s.Value)
	if err == nil {
		prev := ring.CurrentKeyID()
		if err = ring.Rotate(k, retain); err == nil {
			if ring.CurrentKeyID() == prev {
				// Vault versions the whole secret: another key of it changed.
				log.Debug("the signing key secret has a new version with the same key", "setting", src.secretSetting,
					"secret", src.secret, "version", s.Version, "kid", prev)
				return
			}
			log.Info("rotated the token signing key", "setting", src.secretSetting, "secret", src.secret,
				"version", s.Version, "kid", ring.CurrentKeyID(), "previous_kid", prev, "previous_verifies_for", retain.String())
			return
		}
	}
	log.Error("the signing key's new version is not a usable key; still signing with the current one",
		"setting", src.secretSetting, "secret", src.secret, "version", s.Version, "kid", ring.CurrentKeyID(), "error", err)
}

// setVerificationKeys applies a public-key bundle; an empty one (blank)
// lists no keys, so an operator can clear the bundle without a restart.
func setVerificationKeys(ring *auth.KeyRing, bundle []byte) error {
	var pubs []ed25519.PublicKey
	if len(bytes.TrimSpace(bundle)) > 0 {
		var err error
		if pubs, err = auth.ParsePublicKeysPEM(bundle); err != nil {
			return err
		}
	}
	return ring.SetVerificationKeys(pubs)
}

func watchErrorLogger(src keySource, log *slog.Logger) func(error) {
	return func(err error) {
		log.Warn("could not re-read a token key secret; keeping the last good value",
			"setting", src.secretSetting, "secret", src.secret, "error", err)
	}
}

func ringKIDs(ring *auth.KeyRing) []string {
	set := ring.JWKS()
	kids := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}
