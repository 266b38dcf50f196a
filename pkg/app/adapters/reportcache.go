package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/cache"
)

// RedisReportCache keeps finished reports' JSON in Redis (app.ReportCache),
// under keys that carry the tenant (cache.Key(tenant, "report", id)).
type RedisReportCache struct {
	c   *cache.Cache
	ttl time.Duration
}

// NewRedisReportCache returns a report cache on c whose entries live ttl.
func NewRedisReportCache(c *cache.Cache, ttl time.Duration) (*RedisReportCache, error) {
	switch {
	case c == nil:
		return nil, errors.New("adapters: a cache is required")
	case ttl <= 0:
		return nil, errors.New("adapters: a positive report cache ttl is required")
	}
	return &RedisReportCache{c: c, ttl: ttl}, nil
}

// Get returns the cached report JSON of tenant's assessment id.
func (r *RedisReportCache) Get(ctx context.Context, tenant, id string) ([]byte, bool, error) {
	var body json.RawMessage
	hit, err := r.c.GetJSON(ctx, cache.Key(tenant, "report", id), &body)
	if err != nil || !hit {
		return nil, false, err
	}
	return body, true, nil
}

// Put caches the report JSON of tenant's assessment id, unless the
// assessment was erased meanwhile (Forget): a read that loaded the report
// before the erasure must not leave it cached after. The mark is checked
// after the write, so an erasure either sees the copy or is seen.
func (r *RedisReportCache) Put(ctx context.Context, tenant, id string, body []byte) error {
	key := cache.Key(tenant, "report", id)
	if err := r.c.SetJSON(ctx, key, json.RawMessage(body), r.ttl); err != nil {
		return err
	}
	n, err := r.c.Client().Exists(ctx, erasedKey(tenant, id)).Result()
	if err != nil {
		return fmt.Errorf("adapters: check %s is not erased: %w", id, err)
	}
	if n > 0 {
		return r.c.Delete(ctx, key)
	}
	return nil
}
