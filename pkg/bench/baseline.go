package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// baselineWorkers is the concurrency of both baselines: the services'
// default consumer concurrency (IM_CONCURRENCY).
const baselineWorkers = 4

// Baseline is what the infrastructure alone does, measured in the same run.
type Baseline struct {
	// JetStreamPerSecond is messages per second published (each waiting
	// for the stream's ack) and consumed (each double-acked) through a
	// file-storage stream of the deployment's server.
	JetStreamPerSecond float64
	// LookupsPerSecond and InsertsPerSecond are the store's FindOne by _id
	// and InsertOne of a 2 KB document, through the deployment's store.
	LookupsPerSecond float64
	InsertsPerSecond float64
}

const (
	baselineStream  = "IMBENCH"
	baselineSubject = "imbench.baseline"
	baselineColl    = "imbench_baseline"
)

// jetStreamRate publishes n messages of about 1 KB, each with its own
// Nats-Msg-Id, and consumes them with double acks, baselineWorkers at a
// time on each side, as the services' runner does, over one connection made
// as the services make theirs (opts). The stream is its own and is deleted
// afterwards.
func jetStreamRate(ctx context.Context, url string, opts []nats.Option, n int) (float64, error) {
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name("infra-mind-bench")}, opts...)...)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	_ = js.DeleteStream(ctx, baselineStream)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: baselineStream, Subjects: []string{baselineSubject}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("create the baseline stream: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), baselineStream) }()
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "imbench", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
	})
	if err != nil {
		return 0, fmt.Errorf("create the baseline consumer: %w", err)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	var ackErr atomic.Value
	for range baselineWorkers {
		cc, err := cons.Consume(func(m jetstream.Msg) {
			if err := m.DoubleAck(ctx); err != nil {
				ackErr.Store(err)
			}
			if handled.Add(1) >= int64(n) {
				once.Do(func() { close(done) })
			}
		}, jetstream.PullMaxMessages(baselineWorkers))
		if err != nil {
			return 0, err
		}
		defer cc.Stop()
	}
	payload := []byte(`{"summary":"` + strings.Repeat("x", 1000) + `"}`)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, baselineWorkers)
	for w := range baselineWorkers {
		wg.Go(func() {
			for i := w; i < n; i += baselineWorkers {
				if _, err := js.Publish(ctx, baselineSubject, payload, jetstream.WithMsgID("b-"+strconv.Itoa(i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("consumed %d of %d messages in 2 minutes", handled.Load(), n)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	took := time.Since(start)
	if v := ackErr.Load(); v != nil {
		return 0, fmt.Errorf("ack: %w", v.(error))
	}
	return float64(n) / took.Seconds(), nil
}

// storeRates inserts n documents of about 2 KB one at a time and then
// reads n of them by _id, baselineWorkers at a time, in a collection of
// its own that is dropped afterwards.
func storeRates(ctx context.Context, uri, database string, n int) (lookups, inserts float64, err error) {
	mc, err := mongo.Connect(options.Client().ApplyURI(uri).SetAppName("infra-mind-bench"))
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = mc.Disconnect(context.WithoutCancel(ctx)) }()
	coll := mc.Database(database).Collection(baselineColl)
	_ = coll.Drop(ctx)
	defer func() { _ = coll.Drop(context.WithoutCancel(ctx)) }()
	body := strings.Repeat("r", 2000)
	key := func(i int) string { return fmt.Sprintf("imbench/%08d", i) }

	run := func(op func(i int) error) (float64, error) {
		var wg sync.WaitGroup
		var first atomic.Value
		start := time.Now()
		for w := range baselineWorkers {
			wg.Go(func() {
				for i := w; i < n; i += baselineWorkers {
					if err := op(i); err != nil {
						first.CompareAndSwap(nil, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if v := first.Load(); v != nil {
			return 0, v.(error)
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	inserts, err = run(func(i int) error {
		_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: key(i)}, {Key: "tenant_id", Value: "imbench"}, {Key: "body", Value: body}})
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("insert: %w", err)
	}
	lookups, err = run(func(i int) error {
		var doc bson.M
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: key((i * 7919) % n)}}).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return fmt.Errorf("document %s is missing", key((i*7919)%n))
		}
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("lookup: %w", err)
	}
	return lookups, inserts, nil
}
