// Package sizing holds the inference and training sizing calculators: memory fit, tensor-parallel degree,
// latency and throughput at a concurrency, capacity at an SLO, replica counts and training compute.
// Every function is pure (no I/O); every estimate is a Range carrying the assumptions and the formulas
// with the numbers substituted, so a report can show its working. Callers map catalogue rows onto the
// small input types defined here.
package sizing
