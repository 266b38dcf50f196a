// Package devstack runs the embedded servers behind `make run` and the
// hermetic tests: NATS JetStream (nats-server in-process), FerretDB v1 on a
// SQLite directory, and a Redis-protocol server (miniredis). They speak the
// real protocols, so services use the same clients as in production.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ferretNewMu serialises ferretdb.New across the process (see Start).
var ferretNewMu sync.Mutex

// Config for Start. Empty addresses pick a free loopback port.
type Config struct {
	// DataDir holds JetStream's store (nats/) and FerretDB's SQLite files (ferretdb/).
	DataDir string
	// NATSPort, MongoPort and RedisPort are fixed ports; 0 picks a free one.
	NATSPort  int
	MongoPort int
	RedisPort int
	Logger    *slog.Logger
	// SkipNATS, SkipMongo and SkipRedis leave a server out, for a caller
	// that uses an external one instead; its URL in Stack stays empty.
	SkipNATS, SkipMongo, SkipRedis bool
}

// Stack is the running set of embedded servers.
type Stack struct {
	NATSURL  string
	MongoURI string
	RedisURL string

	nats   *server.Server
	ferret context.CancelFunc
	done   chan error
	redis  *miniredis.Miniredis
	// stopExpiry stops expireOnClock, which closes expiryDone on return.
	stopExpiry, expiryDone chan struct{}
}

// NATSInProcess is the embedded broker for a client in this process to
// connect over an in-memory pipe (nats.InProcessServer), or nil when the
// stack runs none.
func (s *Stack) NATSInProcess() nats.InProcessConnProvider {
	if s.nats == nil {
		return nil
	}
	return s.nats
}

// expiryTick is how often the embedded Redis's TTLs advance with the clock.
// miniredis keeps each TTL as a remaining duration and only lowers it when
// told time has passed; each time it walks and sorts every key. With its
// ClockTTL option it does so on every database access, several times per
// command and per script, so a command cost O(keys log keys): a SET, a GET
// and an EVALSHA took 0.54 ms at 100 keys, 1.3 ms at 1,000 and 10.6 ms at
// 10,000; on this tick 0.46, 0.44 and 0.38 ms (BenchmarkRedisCommandWithKeys,
// medians of 4 alternated runs on 2 cores). The walk costs about 2 ms per
// tick at 10,000 keys (BenchmarkExpiryTick), 2% of a core at 100 ms, and
// delays a command arriving meanwhile by as much.
//
// What the tick changes from a real Redis: a key may go up to one tick
// before its TTL ends (it is set between two ticks, and the next tick takes
// off all the time since the last), and PTTL and TTL read up to one tick
// high. TIME reads the clock, and PEXPIREAT and SET PXAT count from it. At
// 100 ms this is well under what the product relies on: rate-limit windows
// (at least 1 s) and active caps are kept by their entries' scores, and
// expiry only drops a key idle for a window (up to a tick early, which may
// forget the requests of its last tick); sign-in lockouts last 15 minutes,
// used TOTP codes 90 s, cached reports minutes; a revocation outlives its
// token by the verifier's 30 s clock skew plus a second (pkg/identity), less
// at most one tick.
const expiryTick = 100 * time.Millisecond

// expireOnClock advances rs's TTLs by the clock time passed, every tick,
// until stop is closed; then it closes done.
func expireOnClock(rs *miniredis.Miniredis, tick time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			// time.Now carries the monotonic clock: a change of the
			// system's wall clock neither expires nor keeps keys.
			now := time.Now()
			rs.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Start launches the three servers and waits until each accepts connections.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("devstack: DataDir is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &Stack{}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	if !cfg.SkipNATS {
		natsDir := filepath.Join(cfg.DataDir, "nats")
		if err := os.MkdirAll(natsDir, 0o750); err != nil {
			return nil, fmt.Errorf("devstack: nats store dir: %w", err)
		}
		natsPort := cfg.NATSPort
		if natsPort == 0 {
			natsPort = server.RANDOM_PORT
		}
		ns, err := server.NewServer(&server.Options{
			ServerName: "infra-mind-dev",
			Host:       "127.0.0.1",
			Port:       natsPort,
			JetStream:  true,
			StoreDir:   natsDir,
			NoSigs:     true,
			NoLog:      true,
		})
		if err != nil {
			return nil, fmt.Errorf("devstack: nats: %w", err)
		}
		s.nats = ns
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			return nil, errors.New("devstack: nats did not become ready in 10s")
		}
		s.NATSURL = ns.ClientURL()
	}

	if !cfg.SkipMongo {
		ferretDir := filepath.Join(cfg.DataDir, "ferretdb")
		if err := os.MkdirAll(ferretDir, 0o750); err != nil {
			return nil, fmt.Errorf("devstack: ferretdb dir: %w", err)
		}
		// ferretdb.New writes a package variable of FerretDB's (its version
		// info), so stacks started at once in parallel tests must take turns.
		ferretNewMu.Lock()
		fdb, err := ferretdb.New(&ferretdb.Config{
			Listener: ferretdb.ListenerConfig{TCP: fmt.Sprintf("127.0.0.1:%d", cfg.MongoPort)},
			// FerretDB logs every command it does not implement (endSessions, ...)
			// as a warning; only its errors matter to a developer.
			Logger:    slog.New(minLevel{Handler: logger.With("component", "ferretdb").Handler(), min: slog.LevelError}),
			Handler:   "sqlite",
			SQLiteURL: sqliteURL(ferretDir),
		})
		ferretNewMu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("devstack: ferretdb: %w", err)
		}
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.ferret = cancel
		s.done = make(chan error, 1)
		go func() { s.done <- fdb.Run(fctx) }()
		s.MongoURI = fdb.MongoDBURI()
	}

	if !cfg.SkipRedis {
		rs := miniredis.NewMiniRedis()
		if err := rs.StartAddr(fmt.Sprintf("127.0.0.1:%d", cfg.RedisPort)); err != nil {
			return nil, fmt.Errorf("devstack: redis: %w", err)
		}
		s.redis = rs
		s.RedisURL = "redis://" + rs.Addr()
		s.stopExpiry, s.expiryDone = make(chan struct{}), make(chan struct{})
		go expireOnClock(rs, expiryTick, s.stopExpiry, s.expiryDone)
	}

	ok = true
	return s, nil
}

// sqliteURL is FerretDB's SQLite URL for dir. FerretDB opens its files in
// WAL mode; synchronous=NORMAL makes a commit write the log without waiting
// for the disk (fsync), which the default, FULL, waits for on every commit:
// about 0.8 ms of each insert of the embedded store, and the close writes
// three of them (BenchmarkInsert in pkg/store, docs/adr/0054). In WAL mode a
// process crash still loses nothing; a power cut or an operating system
// crash may lose the last commits, never corrupting the files. The embedded
// broker already keeps its streams so (nats-server syncs them to disk every
// two minutes by default), so this is the development default's level of
// durability, and production runs MongoDB or FerretDB on PostgreSQL.
func sqliteURL(dir string) string {
	return "file:" + dir + "/?_pragma=synchronous(normal)"
}

// Close stops the servers; it is safe to call more than once.
func (s *Stack) Close() {
	if s.stopExpiry != nil {
		close(s.stopExpiry)
		<-s.expiryDone
		s.stopExpiry = nil
	}
	if s.redis != nil {
		s.redis.Close()
		s.redis = nil
	}
	if s.ferret != nil {
		s.ferret()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
		s.ferret = nil
	}
	if s.nats != nil {
		s.nats.Shutdown()
		s.nats.WaitForShutdown()
		s.nats = nil
	}
}

// minLevel drops records below min. Attributes and groups added with With
// are only applied to the handler when a record is kept: FerretDB attaches
// every SQL statement's arguments (a whole document as JSON) to a logger
// with With before each debug record, and a text or JSON handler formats
// them at once, which cost about 0.8 ms of CPU per insert of a 50 KB
// document although the record is dropped (BenchmarkInsert in pkg/store).
type minLevel struct {
	slog.Handler
	min slog.Level
	// with is applied to Handler, in order, for a record that is kept.
	with []func(slog.Handler) slog.Handler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) Handle(ctx context.Context, r slog.Record) error {
	out := h.Handler
	for _, f := range h.with {
		out = f(out)
	}
	return out.Handle(ctx, r)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return h.then(func(next slog.Handler) slog.Handler { return next.WithAttrs(a) })
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return h.then(func(next slog.Handler) slog.Handler { return next.WithGroup(name) })
}

// then returns h with f added to what a kept record applies.
func (h minLevel) then(f func(slog.Handler) slog.Handler) minLevel {
	return minLevel{Handler: h.Handler, min: h.min, with: append(slices.Clip(h.with), f)}
}
