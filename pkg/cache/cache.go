// Package cache is the thin Redis (or Valkey) client the services share for
// cached JSON values; rate limits and token revocation build on Client().
// Keys always carry the tenant: build them with Key.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// KeyPrefix starts every key this product writes, so a shared Redis can be
// inspected or cleaned by prefix.
const KeyPrefix = "im"

// Cache is a connected Redis client.
type Cache struct {
	client *redis.Client
}

// Connect parses url (redis://[user:password@]host:port/db or rediss://),
// dials and pings the server.
func Connect(ctx context.Context, url string) (*Cache, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: do not echo it.
		return nil, errors.New("cache: parse redis url: malformed url")
	}
	c := &Cache{client: redis.NewClient(opt)}
	if err := c.Ping(ctx); err != nil {
		_ = c.client.Close()
		return nil, err
	}
	return c, nil
}

// Ping checks the server answers (for /readyz).
func (c *Cache) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cache: ping: %w", err)
	}
	return nil
}

// Close releases the connections.
func (c *Cache) Close() error {
	if err := c.client.Close(); err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return nil
}

// Client returns the underlying client for features beyond JSON values
// (rate limits, revocation lists). Callers keep the tenant in every key.
func (c *Cache) Client() *redis.Client { return c.client }

// GetJSON decodes the value at key into v. It returns false, and leaves v
// alone, when the key does not exist.
func (c *Cache) GetJSON(ctx context.Context, key string, v any) (bool, error) {
	b, err := c.client.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("cache: get %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("cache: decode %s: %w", key, err)
	}
	return true, nil
}

// SetJSON stores v as JSON at key for ttl. A ttl of 0 keeps the key until it
// is deleted; prefer a positive ttl so stale entries age out.
func (c *Cache) SetJSON(ctx context.Context, key string, v any, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("cache: set %s: negative ttl %s", key, ttl)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cache: encode %s: %w", key, err)
	}
	if err := c.client.Set(ctx, key, b, ttl).Err(); err != nil {
		return fmt.Errorf("cache: set %s: %w", key, err)
	}
	return nil
}

// Delete removes keys; missing keys are not an error.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := c.client.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("cache: delete %s: %w", strings.Join(keys, " "), err)
	}
	return nil
}

// Key builds "im:<tenant>:<part>:<part>...". It rejects nothing and escapes
// nothing: the caller passes a non-empty tenant id and parts without ':'
// (ids and fixed words), which keeps one tenant's keys apart from another's.
func Key(tenant string, parts ...string) string {
	var b strings.Builder
	b.WriteString(KeyPrefix)
	b.WriteByte(':')
	b.WriteString(tenant)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}
