package devstack_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/devstack"
)

// touchScript stands for the gateway's rate-limit and active-cap scripts
// (pkg/ratelimit): it writes one key and renews its expiry.
const touchScript = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`

// BenchmarkRedisCommandWithKeys measures one round of the commands the
// services send the embedded Redis (a SET with PX, a GET and an EVALSHA
// of a script that touches a key) while it holds keys with TTLs, as it
// does under traffic: rate-limit windows, active caps, revocations,
// cached reports. One op is the three commands, on one of the keys, so
// the number of keys stays as set.
func BenchmarkRedisCommandWithKeys(b *testing.B) {
	for _, keys := range []int{100, 1_000, 10_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			ctx := context.Background()
			s, err := devstack.Start(ctx, devstack.Config{DataDir: b.TempDir(), SkipNATS: true, SkipMongo: true})
			require.NoError(b, err)
			defer s.Close()
			opt, err := redis.ParseURL(s.RedisURL)
			require.NoError(b, err)
			// Loading 10,000 keys with TTLs takes seconds when every
			// command's cost grows with the keys already there.
			opt.ReadTimeout = time.Minute
			rc := redis.NewClient(opt)
			defer func() { _ = rc.Close() }()

			p := rc.Pipeline()
			for i := range keys {
				p.Set(ctx, "im:bench:k:"+strconv.Itoa(i), "1", time.Hour)
			}
			_, err = p.Exec(ctx)
			require.NoError(b, err)
			require.EqualValues(b, keys, rc.DBSize(ctx).Val())
			touch := redis.NewScript(touchScript)
			require.NoError(b, touch.Load(ctx, rc).Err())

			for i := 0; b.Loop(); i++ {
				k := "im:bench:k:" + strconv.Itoa(i%keys)
				if err := rc.Set(ctx, k, "1", time.Hour).Err(); err != nil {
					b.Fatal(err)
				}
				if err := rc.Get(ctx, k).Err(); err != nil {
					b.Fatal(err)
				}
				if err := touch.EvalSha(ctx, rc, []string{k}, 60_000).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExpiryTick measures what advancing the embedded Redis's TTLs
// once costs at 100, 1,000 and 10,000 keys with TTLs: miniredis walks and
// sorts every key (devstack's expiry tick does this every 100 ms).
func BenchmarkExpiryTick(b *testing.B) {
	for _, keys := range []int{100, 1_000, 10_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			m := miniredis.NewMiniRedis()
			for i := range keys {
				k := "im:bench:k:" + strconv.Itoa(i)
				require.NoError(b, m.Set(k, "1"))
				m.SetTTL(k, time.Hour)
			}
			for b.Loop() {
				m.FastForward(time.Microsecond)
			}
			require.Len(b, m.Keys(), keys)
		})
	}
}
