package bus

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketProgress is the key-value bucket that holds each running
// assessment's pipeline state (its families' results and the claims that
// finish and announce it; see package progress). Never rename it: the state
// of assessments in flight lives under this name.
const BucketProgress = "PROGRESS"

// BucketReadModel holds the copy of what people read (assessments,
// reports, recommendations) and each tenant's list in key order (see
// package readmodel). It keeps what it holds until it is deleted: no age
// limit. Never rename it.
const BucketReadModel = "READ_MODEL"

// BucketWebhookDeliveries holds the state of each webhook delivery (its
// attempts and whether the delivery log has them), read before every attempt;
// the webhook dispatcher declares it with the WEBHOOKS stream. Never rename it.
const BucketWebhookDeliveries = "WEBHOOK_DELIVERIES"

// WebhookDeliveriesBucketConfig is the BucketWebhookDeliveries bucket with the
// WEBHOOKS stream's replicas and retention (zero or less: 1 replica,
// DefaultMaxAge): a delivery's state is needed while its message can be
// delivered.
func WebhookDeliveriesBucketConfig(replicas int, maxAge time.Duration) jetstream.KeyValueConfig {
	if replicas <= 0 {
		replicas = 1
	}
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	return jetstream.KeyValueConfig{
		Bucket:      BucketWebhookDeliveries,
		Description: "state of each webhook delivery: attempts, and whether the delivery log holds them",
		History:     1,
		TTL:         maxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

// KeyValueConfigs are the key-value buckets Connect declares, with the
// streams' replicas and retention: the state of an assessment is needed as
// long as any of its messages can still be delivered.
func KeyValueConfigs(cfg Config) []jetstream.KeyValueConfig {
	cfg = withDefaults(cfg)
	return []jetstream.KeyValueConfig{progressBucket(cfg.MaxAge, cfg.Replicas), readModelBucket(cfg.Replicas)}
}

func readModelBucket(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      BucketReadModel,
		Description: "what people read: assessments, reports, recommendations, and each tenant's list in key order",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

func progressBucket(maxAge time.Duration, replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      BucketProgress,
		Description: "pipeline state of each assessment: family results, finish and announcement claims",
		History:     1,
		TTL:         maxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}
