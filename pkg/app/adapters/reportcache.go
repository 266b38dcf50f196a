package adapters

import (
	"context"
	"encoding/json"
	"errors"
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

// Put caches the report JSON of tenant's assessment id.
func (r *RedisReportCache) Put(ctx context.Context, tenant, id string, body []byte) error {
	return r.c.SetJSON(ctx, cache.Key(tenant, "report", id), json.RawMessage(body), r.ttl)
}
