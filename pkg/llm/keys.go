package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// WatchKey reads the API key called name from the secret provider and
// re-reads it every interval, as the token signing key is: a new version
// (a rotation in Vault, a replaced file) is used from the next request on,
// without a restart. A failed re-read keeps the last good key. The first
// read's error is returned, so a process fails start on a missing key.
func WatchKey(ctx context.Context, p secrets.Provider, name string, interval time.Duration, log *slog.Logger) (*Key, error) {
	if p == nil {
		return nil, errors.New("llm key: a secret provider is required (IM_SECRETS_PROVIDER)")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key := &Key{}
	first, err := secrets.Watch(ctx, p, name, interval,
		func(s secrets.Secret) {
			key.Set(string(s.Value))
			log.Info("llm API key rotated", "secret", name, "version", s.Version)
		},
		func(err error) {
			log.Warn("llm API key re-read failed; the last key stays in use", "secret", name, "error", err.Error())
		})
	if err != nil {
		return nil, fmt.Errorf("llm key: %w", err)
	}
	key.Set(string(first.Value))
	if key.Value() == "" {
		return nil, fmt.Errorf("llm key: secret %s is empty", name)
	}
	return key, nil
}
