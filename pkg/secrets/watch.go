package secrets

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Watch re-reads the named secret every interval and calls onChange with
// the new secret each time its Version differs from the last one seen
// (Vault's new version after a rotation, a new file, ...). The first read
// happens at once and its result is returned, so the caller starts with a
// value or a named error (ErrSealed, ErrUnreachable, ...) and decides
// whether to fail start. The loop runs until ctx ends; a failed re-read is
// passed to onError (may be nil) and the last good value stays in use.
func Watch(ctx context.Context, p Provider, name string, interval time.Duration,
	onChange func(Secret), onError func(error),
) (Secret, error) {
	if p == nil || onChange == nil {
		return Secret{}, errors.New("watch secret: provider and callback are required")
	}
	if interval <= 0 {
		return Secret{}, errors.New("watch secret: interval must be positive")
	}
	first, err := p.Get(ctx, name)
	if err != nil {
		return Secret{}, fmt.Errorf("watch secret %s: %w", name, err)
	}
	go func() {
		last := first.Version
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := p.Get(ctx, name)
			if err != nil {
				if onError != nil && ctx.Err() == nil {
					onError(fmt.Errorf("re-read secret %s: %w", name, err))
				}
				continue
			}
			if s.Version != last {
				last = s.Version
				onChange(s)
			}
		}
	}()
	return first, nil
}
