package store_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/infra-mind/infra-mind/pkg/devstack"
)

// BenchmarkLookupByKey reads one document by its primary key on the
// embedded FerretDB (SQLite) at two collection sizes, with find and with
// FindOne (find with limit 1, what the store uses). FerretDB v1.24's SQLite
// backend filters on `_ferretdb_sjson->'$._id'` while its unique index is on
// `_ferretdb_sjson->"_id"`, so SQLite scans either way: lookups grow with the
// collection, and FindOne, which stops at the match, scans about half as much.
func BenchmarkLookupByKey(b *testing.B) {
	for _, n := range []int{100, 1000} {
		ctx := context.Background()
		stack, err := devstack.Start(ctx, devstack.Config{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		mc, err := mongo.Connect(options.Client().ApplyURI(stack.MongoURI))
		if err != nil {
			b.Fatal(err)
		}
		coll := mc.Database("bench").Collection("docs")
		docs := make([]any, 0, n)
		for i := range n {
			docs = append(docs, bson.M{"_id": fmt.Sprintf("tenant/%06d", i), "tenant_id": "tenant", "body": fmt.Sprintf("%0512d", i)})
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("find/docs=%d", n), func(b *testing.B) {
			for i := range b.N {
				cur, err := coll.Find(ctx, bson.M{"_id": fmt.Sprintf("tenant/%06d", (i*7919)%n)})
				if err != nil {
					b.Fatal(err)
				}
				var out []bson.M
				if err := cur.All(ctx, &out); err != nil || len(out) != 1 {
					b.Fatalf("find: %v, %d documents", err, len(out))
				}
			}
		})
		b.Run(fmt.Sprintf("findOne/docs=%d", n), func(b *testing.B) {
			for i := range b.N {
				var m bson.M
				if err := coll.FindOne(ctx, bson.M{"_id": fmt.Sprintf("tenant/%06d", (i*7919)%n)}).Decode(&m); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = mc.Disconnect(ctx)
		stack.Close()
	}
}
