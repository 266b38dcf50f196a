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

// KeyValueConfigs are the key-value buckets Connect declares, with the
// streams' replicas and retention: the state of an assessment is needed as
// long as any of its messages can still be delivered.
func KeyValueConfigs(cfg Config) []jetstream.KeyValueConfig {
	cfg = withDefaults(cfg)
	return []jetstream.KeyValueConfig{progressBucket(cfg.MaxAge, cfg.Replicas)}
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
