package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// CountCommands sees each command the store sends, by name: what the
// services' store_commands_total metric and the benchmark count.
func TestCountCommandsNamesEachCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)

	var mu sync.Mutex
	counts := map[string]int{}
	s, err := store.Connect(ctx, stack.MongoURI, "count_commands", store.CountCommands(func(c string) {
		mu.Lock()
		counts[c]++
		mu.Unlock()
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	mu.Lock()
	before := map[string]int{"insert": counts["insert"], "find": counts["find"]}
	mu.Unlock()
	coll := s.Database().Collection("counted")
	_, err = coll.InsertOne(ctx, bson.M{"_id": "t1/a1"})
	require.NoError(t, err)
	require.NoError(t, coll.FindOne(ctx, bson.M{"_id": "t1/a1"}).Err())

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, before["insert"]+1, counts["insert"], "one insert: %v", counts)
	require.Equal(t, before["find"]+1, counts["find"], "one find: %v", counts)
}
