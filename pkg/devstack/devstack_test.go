package devstack_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/infra-mind/infra-mind/pkg/devstack"
)

func TestStartServesAllThreeProtocols(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	defer s.Close()

	nc, err := nats.Connect(s.NATSURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	info, err := js.AccountInfo()
	require.NoError(t, err)
	require.Equal(t, 0, info.Streams)

	mc, err := mongo.Connect(options.Client().ApplyURI(s.MongoURI))
	require.NoError(t, err)
	defer func() { _ = mc.Disconnect(ctx) }()
	coll := mc.Database("devstack_test").Collection("c")
	_, err = coll.InsertOne(ctx, bson.M{"_id": "a", "n": 1})
	require.NoError(t, err)
	var got bson.M
	require.NoError(t, coll.FindOne(ctx, bson.M{"_id": "a"}).Decode(&got))
	require.EqualValues(t, 1, got["n"])

	opt, err := redis.ParseURL(s.RedisURL)
	require.NoError(t, err)
	rc := redis.NewClient(opt)
	defer func() { _ = rc.Close() }()
	require.NoError(t, rc.Set(ctx, "k", "v", 0).Err())
	require.Equal(t, "v", rc.Get(ctx, "k").Val())
}

// startRedis starts a stack with only the Redis-protocol server and a
// client of it.
func startRedis(t *testing.T) (*devstack.Stack, *redis.Client) {
	t.Helper()
	s, err := devstack.Start(t.Context(), devstack.Config{DataDir: t.TempDir(), SkipNATS: true, SkipMongo: true})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	opt, err := redis.ParseURL(s.RedisURL)
	require.NoError(t, err)
	rc := redis.NewClient(opt)
	t.Cleanup(func() { _ = rc.Close() })
	return s, rc
}

func TestRedisKeysExpireOnTheClock(t *testing.T) {
	t.Parallel()
	_, rc := startRedis(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		expire func(key string) error
	}{
		{"SET with PX", func(k string) error { return rc.Set(ctx, k, "v", 50*time.Millisecond).Err() }},
		{"PEXPIREAT", func(k string) error {
			if err := rc.Set(ctx, k, "v", 0).Err(); err != nil {
				return err
			}
			return rc.PExpireAt(ctx, k, time.Now().Add(50*time.Millisecond)).Err()
		}},
		{"PEXPIRE in a script", func(k string) error {
			return rc.Eval(ctx, `redis.call('SET', KEYS[1], 'v') return redis.call('PEXPIRE', KEYS[1], 50)`, []string{k}).Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			short, long := "short:"+tc.name, "long:"+tc.name
			require.NoError(t, rc.Set(ctx, long, "v", time.Hour).Err())
			require.NoError(t, tc.expire(short))
			// Nothing but the clock moves the server's time here.
			require.Eventually(t, func() bool { return rc.Exists(ctx, short).Val() == 0 },
				5*time.Second, 10*time.Millisecond, "a key with a 50 ms TTL outlived it")
			require.Equal(t, "v", rc.Get(ctx, long).Val(), "a key with an hour's TTL expired")
			require.Greater(t, rc.PTTL(ctx, long).Val(), 59*time.Minute)
		})
	}
}

// TestCloseStopsTheExpiryTick is not parallel: it counts every stack's
// expiry goroutine in the process.
func TestCloseStopsTheExpiryTick(t *testing.T) {
	s, _ := startRedis(t)
	// A goroutine just started may not show in a dump yet.
	require.Eventually(t, func() bool { return expiryTicks() == 1 }, 5*time.Second, time.Millisecond,
		"the stack advances its Redis's TTLs")
	s.Close()
	require.Eventually(t, func() bool { return expiryTicks() == 0 }, 5*time.Second, 10*time.Millisecond,
		"the expiry goroutine outlived Close")
	s.Close() // twice is fine
}

// expiryTicks counts the goroutines running devstack's expiry tick.
func expiryTicks() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "devstack.expireOnClock(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
