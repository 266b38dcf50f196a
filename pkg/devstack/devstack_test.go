package devstack_test

import (
	"context"
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
