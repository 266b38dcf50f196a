package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// KeySource is where one key comes from: a file read once at start, or a
// secret re-read from a provider. The *Setting fields name the settings
// that hold them, so errors say what an operator must fix.
type KeySource struct {
	FileSetting, SecretSetting string
	File, Secret               string
}

// KeySources are the token keys of a ring and how they are kept current.
type KeySources struct {
	// Signing is the signing key (PKCS#8 PEM Ed25519); exactly one of its
	// file and secret is set.
	Signing KeySource
	// Verification is an optional bundle of verification-only public keys
	// (PEM): the previous or next keys of a planned rotation.
	Verification KeySource
	// Provider serves the secrets; required when a source names one.
	Provider secrets.Provider
	// Refresh is how often the secrets are re-read.
	Refresh time.Duration
	// Retain is how long a rotated-out signing key keeps verifying: the
	// access-token lifetime plus ClockSkew, so no token it signed is cut short.
	Retain time.Duration
	Logger *slog.Logger
}

// LoadKeyRing builds a token key ring and keeps it current. A signing key
// from a secret is re-read every Refresh: a new version becomes the signing
// key and the previous one keeps verifying for Retain. A verification
// bundle from a secret is re-read the same way and replaces the
// verification-only keys. A bad new version is logged and the last good
// keys stay in use. stop ends the re-reads; they also end with ctx.
func LoadKeyRing(ctx context.Context, src KeySources) (_ *KeyRing, stop func(), err error) {
	priv, pub, log := src.Signing, src.Verification, src.Logger
	switch {
	case log == nil:
		return nil, nil, errors.New("load key ring: logger is required")
	case (priv.File == "") == (priv.Secret == ""):
		return nil, nil, fmt.Errorf("load key ring: set one of %s and %s", priv.FileSetting, priv.SecretSetting)
	case pub.File != "" && pub.Secret != "":
		return nil, nil, fmt.Errorf("load key ring: set one of %s and %s, not both", pub.FileSetting, pub.SecretSetting)
	case src.Retain <= 0:
		return nil, nil, fmt.Errorf("load key ring: retention must be positive, got %s", src.Retain)
	case (priv.Secret != "" || pub.Secret != "") && (src.Provider == nil || src.Refresh <= 0):
		return nil, nil, errors.New("load key ring: keys from secrets need a provider and a positive refresh interval")
	}

	wctx, cancel := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	var ring *KeyRing
	if priv.File != "" {
		k, err := LoadPrivateKeyPEM(priv.File)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", priv.FileSetting, err)
		}
		if ring, err = NewKeyRing(k); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", priv.FileSetting, err)
		}
	} else {
		// The watcher may see a new version before the ring exists; it waits.
		ready := make(chan struct{})
		first, err := secrets.Watch(wctx, src.Provider, priv.Secret, src.Refresh, func(s secrets.Secret) {
			select {
			case <-ready:
			case <-wctx.Done():
				return
			}
			rotateSigningKey(ring, s, priv, src.Retain, log)
		}, watchErrorLogger(priv, log))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", priv.SecretSetting, err)
		}
		k, err := ParsePrivateKeyPEM(first.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s (version %s): %w", priv.SecretSetting, priv.Secret, first.Version, err)
		}
		if ring, err = NewKeyRing(k); err != nil {
			return nil, nil, fmt.Errorf("%s %s (version %s): %w", priv.SecretSetting, priv.Secret, first.Version, err)
		}
		close(ready)
	}

	switch {
	case pub.File != "":
		b, err := os.ReadFile(pub.File)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pub.FileSetting, err)
		}
		if err := setVerificationKeys(ring, b); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", pub.FileSetting, pub.File, err)
		}
	case pub.Secret != "":
		first, err := secrets.Watch(wctx, src.Provider, pub.Secret, src.Refresh, func(s secrets.Secret) {
			if err := setVerificationKeys(ring, s.Value); err != nil {
				log.Error("the public-key bundle's new version is not usable; keeping the previous keys",
					"setting", pub.SecretSetting, "secret", pub.Secret, "version", s.Version, "error", err)
				return
			}
			log.Info("replaced the verification-only token keys", "setting", pub.SecretSetting, "secret", pub.Secret,
				"version", s.Version, "kids", ringKIDs(ring))
		}, watchErrorLogger(pub, log))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pub.SecretSetting, err)
		}
		if err := setVerificationKeys(ring, first.Value); err != nil {
			return nil, nil, fmt.Errorf("%s %s (version %s): %w", pub.SecretSetting, pub.Secret, first.Version, err)
		}
	}
	log.Info("token keys loaded", "signing_kid", ring.CurrentKeyID(), "kids", ringKIDs(ring))
	return ring, cancel, nil
}

// rotateSigningKey applies a new version of the signing-key secret.
func rotateSigningKey(ring *KeyRing, s secrets.Secret, src KeySource, retain time.Duration, log *slog.Logger) {
	k, err := ParsePrivateKeyPEM(s.Value)
	if err == nil {
		prev := ring.CurrentKeyID()
		if err = ring.Rotate(k, retain); err == nil {
			if ring.CurrentKeyID() == prev {
				// Vault versions the whole secret: another key of it changed.
				log.Debug("the signing key secret has a new version with the same key", "setting", src.SecretSetting,
					"secret", src.Secret, "version", s.Version, "kid", prev)
				return
			}
			log.Info("rotated the token signing key", "setting", src.SecretSetting, "secret", src.Secret,
				"version", s.Version, "kid", ring.CurrentKeyID(), "previous_kid", prev, "previous_verifies_for", retain.String())
			return
		}
	}
	log.Error("the signing key's new version is not a usable key; still signing with the current one",
		"setting", src.SecretSetting, "secret", src.Secret, "version", s.Version, "kid", ring.CurrentKeyID(), "error", err)
}

// setVerificationKeys applies a public-key bundle; an empty one (blank)
// lists no keys, so an operator can clear the bundle without a restart.
func setVerificationKeys(ring *KeyRing, bundle []byte) error {
	var pubs []ed25519.PublicKey
	if len(bytes.TrimSpace(bundle)) > 0 {
		var err error
		if pubs, err = ParsePublicKeysPEM(bundle); err != nil {
			return err
		}
	}
	return ring.SetVerificationKeys(pubs)
}

func watchErrorLogger(src KeySource, log *slog.Logger) func(error) {
	return func(err error) {
		log.Warn("could not re-read a token key secret; keeping the last good value",
			"setting", src.SecretSetting, "secret", src.Secret, "error", err)
	}
}

func ringKIDs(ring *KeyRing) []string {
	set := ring.JWKS()
	kids := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}
