package telemetry

import (
	"net/http/pprof"
	"runtime"
)

// BlockProfileRate is the rate RecordBlocking sets: on average one blocking
// event is sampled per this many nanoseconds spent blocked (runtime.SetBlockProfileRate).
const BlockProfileRate = 100_000

// RecordBlocking turns on the runtime's block profile for the whole process,
// so /debug/pprof/block shows where goroutines wait (channel operations,
// locks, select). It costs a little on every blocking event, so only
// processes under a load test turn it on.
func RecordBlocking() { runtime.SetBlockProfileRate(BlockProfileRate) }

// WithProfiling serves Go's pprof profiles under /debug/pprof/ on the
// operations listener (CPU with ?seconds=N, block, goroutine, heap, ...).
// It returns s for chaining. The public port never serves them.
func (s *Server) WithProfiling() *Server {
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return s
}
