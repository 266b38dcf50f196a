package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// BenchmarkInsert times one InsertOne of the documents an assessment's close
// writes, as the store encodes them, for a bundled example: the report, the
// recommendations, and both at once as the synthesizer writes them; beside a
// document with an _id alone and a 2 KB one. It runs on the embedded FerretDB
// (SQLite) as devstack starts it, and on the server IM_TEST_MONGO_URI names
// when it is set (FerretDB on PostgreSQL under scripts/integration.sh).
// cpu-ms/op is the process's CPU time per operation: the embedded FerretDB
// runs in it, so it counts the server's work too.
func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	uri := os.Getenv("IM_TEST_MONGO_URI")
	if uri == "" {
		stack, err := devstack.Start(ctx, devstack.Config{DataDir: b.TempDir(), SkipNATS: true, SkipRedis: true})
		require.NoError(b, err)
		b.Cleanup(stack.Close)
		uri = stack.MongoURI
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(uri))
	require.NoError(b, err)
	db := mc.Database(uniq("bench_insert"))
	b.Cleanup(func() { _ = db.Drop(ctx); _ = mc.Disconnect(ctx) })

	cat, err := catalog.Load()
	require.NoError(b, err)
	body, results := exampleOutputs(b, cat, filepath.Join("..", "..", "examples", "chatbot-70b-hipaa-us.yaml"))
	rep := storedForm(b, store.MarshalReport, store.Report{ID: "x", TenantID: "acme", AssessmentID: "a-1", Status: "completed",
		Body: body, CreatedAt: time.Now()})
	rec := storedForm(b, store.MarshalRecommendations, store.Recommendations{ID: "x", TenantID: "acme", AssessmentID: "a-1",
		Status: "completed", Set: recommend.Build(results), CreatedAt: time.Now()})
	b.Logf("stored report %d bytes, stored recommendations %d bytes", len(rep), len(rec))

	var n atomic.Int64
	withID := func(raw bson.Raw) func(string) any {
		return func(id string) any {
			var d bson.D
			if err := bson.Unmarshal(raw, &d); err != nil {
				panic(err)
			}
			d[0].Value = id
			return d
		}
	}
	type doc struct {
		coll string
		of   func(id string) any
	}
	idOnly := doc{"id_only", func(id string) any { return bson.D{{Key: "_id", Value: id}} }}
	small := doc{"small", func(id string) any {
		return bson.D{{Key: "_id", Value: id}, {Key: "body", Value: fmt.Sprintf("%02048d", 1)}}
	}}
	report := doc{"reports", withID(rep)}
	recs := doc{"recommendations", withID(rec)}
	for _, c := range []struct {
		name string
		docs []doc
	}{
		{"id-only", []doc{idOnly}},
		{"2KB", []doc{small}},
		{"report", []doc{report}},
		{"recommendations", []doc{recs}},
		{"report+recommendations-at-once", []doc{report, recs}},
	} {
		for _, d := range c.docs {
			_, err := db.Collection(d.coll).InsertOne(ctx, d.of("warm"+c.name))
			require.NoError(b, err)
		}
		b.Run(c.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				id := fmt.Sprint(n.Add(1))
				var g errgroup.Group
				for _, d := range c.docs {
					g.Go(func() error { _, err := db.Collection(d.coll).InsertOne(ctx, d.of(id)); return err })
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// storedForm is v as the store writes it.
func storedForm[T any](b *testing.B, marshal func(T) ([]byte, error), v T) bson.Raw {
	raw, err := marshal(v)
	require.NoError(b, err)
	return raw
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
