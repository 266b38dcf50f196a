package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	openai "github.com/sashabaranov/go-openai"
	"github.com/sony/gobreaker/v2"
)

var errEOF = io.EOF

// Defaults for a provider's settings left at zero.
const (
	DefaultTimeout       = 60 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
	// DefaultBreakerFailures consecutive failed attempts open a provider's
	// circuit for DefaultBreakerCooldown.
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// Outcomes of one attempt, as OnAttempt reports them.
const (
	OutcomeOK        = "ok"
	OutcomeRetryable = "retryable_error"
	OutcomeFailed    = "error"
	OutcomeCancelled = "cancelled"
	OutcomeOpen      = "circuit_open"
)

// Config is the ordered provider list and how it is used.
type Config struct {
	Providers []ProviderConfig
	// HedgeDelay starts the next provider when the current one has not
	// answered (its first chunk, for a stream) within it; the slower one is
	// cancelled. Zero: no hedging, the next provider only after a failure.
	HedgeDelay time.Duration
	// BreakerFailures consecutive failed attempts open a provider's circuit
	// for BreakerCooldown, during which it is skipped; then one trial call
	// decides whether it closes again.
	BreakerFailures int
	BreakerCooldown time.Duration
	// InitialBackoff is the first retry delay without Retry-After (default 500ms).
	InitialBackoff time.Duration
	Logger         *slog.Logger
	// OnAttempt, when set, is told each attempt's provider and outcome (metrics).
	OnAttempt func(provider, outcome string)
}

// Router sends each request to its providers in order; see Config.
type Router struct {
	providers []*provider
	hedge     time.Duration
	backoff   time.Duration
	log       *slog.Logger
	observe   func(provider, outcome string)
}

type provider struct {
	cfg     ProviderConfig
	client  *openai.Client
	breaker *gobreaker.CircuitBreaker[any]
}

var _ Completer = (*Router)(nil)

// New builds a router over cfg's providers; at least one is required.
func New(cfg Config) (*Router, error) {
	if len(cfg.Providers) == 0 {
		return nil, errors.New("llm: at least one provider is required")
	}
	if cfg.HedgeDelay < 0 || cfg.BreakerFailures < 0 || cfg.BreakerCooldown < 0 || cfg.InitialBackoff < 0 {
		return nil, errors.New("llm: hedge delay, breaker settings and backoff may not be negative")
	}
	r := &Router{hedge: cfg.HedgeDelay, backoff: cfg.InitialBackoff, log: cfg.Logger, observe: cfg.OnAttempt}
	if r.backoff == 0 {
		r.backoff = 500 * time.Millisecond
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.observe == nil {
		r.observe = func(string, string) {}
	}
	failures := uint32(DefaultBreakerFailures)
	if cfg.BreakerFailures > 0 {
		failures = uint32(cfg.BreakerFailures) //nolint:gosec // a small configured count
	}
	cooldown := cmp(cfg.BreakerCooldown, DefaultBreakerCooldown)
	seen := map[string]bool{}
	for _, pc := range cfg.Providers {
		if err := pc.Validate(); err != nil {
			return nil, err
		}
		if seen[pc.Name] {
			return nil, fmt.Errorf("llm provider %s: named twice", pc.Name)
		}
		seen[pc.Name] = true
		pc.Timeout = cmp(pc.Timeout, DefaultTimeout)
		pc.MaxRetryAfter = cmp(pc.MaxRetryAfter, DefaultMaxRetryAfter)
		name := pc.Name
		r.providers = append(r.providers, &provider{
			cfg:    pc,
			client: newClient(pc),
			breaker: gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
				Name:        name,
				MaxRequests: 1,
				Timeout:     cooldown,
				ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
				// A client error (400, 401) says nothing of the provider's health.
				IsSuccessful: func(err error) bool { return err == nil || !retryable(err) },
				// A cancelled attempt (the slower of a hedge, a caller gone) neither.
				IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
				OnStateChange: func(n string, from, to gobreaker.State) {
					r.log.Warn("llm provider circuit", "provider", n, "from", from.String(), "to", to.String())
				},
			}),
		})
	}
	return r, nil
}

func cmp(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// Providers are the configured providers' names, in order.
func (r *Router) Providers() []string {
	out := make([]string, 0, len(r.providers))
	for _, p := range r.providers {
		out = append(out, p.cfg.Name)
	}
	return out
}

// Keys are the providers' current API keys (none for a provider without
// one), so callers can make sure no answer ever repeats one.
func (r *Router) Keys() []string {
	var out []string
	for _, p := range r.providers {
		if v := p.cfg.Key.Value(); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Complete implements Completer.
func (r *Router) Complete(ctx context.Context, req Request) (Response, error) {
	res, p, done, err := race(ctx, r, func(ctx context.Context, p *provider) (Response, error) {
		return complete(ctx, p.client, p.cfg.Kind, p.cfg.Model, req)
	}, nil)
	if err != nil {
		return Response{}, err
	}
	done()
	res.Provider = p.cfg.Name
	if res.Model == "" {
		res.Model = p.cfg.Model
	}
	return res, nil
}

// Stream implements Completer. Providers race for the first chunk (hedging
// and failover happen before any text reaches onDelta); the winner's stream
// is then read to its end within its provider's timeout.
func (r *Router) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	os, p, done, err := race(ctx, r, func(ctx context.Context, p *provider) (*openStream, error) {
		return startStream(ctx, p.client, p.cfg.Kind, p.cfg.Model, req)
	}, func(s *openStream) { _ = s.s.Close() })
	if err != nil {
		return Response{}, err
	}
	defer done()
	defer func() { _ = os.s.Close() }()
	acc := accumulator{model: p.cfg.Model}
	// A stream stopped after a provider answered returns what arrived with
	// the provider named, so a caller metering use knows it was answered.
	partial := func(err error) (Response, error) {
		res := acc.response()
		res.Provider = p.cfg.Name
		return res, err
	}
	if !os.eof {
		if err := acc.add(os.first, onDelta); err != nil {
			return partial(err)
		}
		for {
			chunk, err := os.s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return partial(fmt.Errorf("llm provider %s: stream: %w", p.cfg.Name, err))
			}
			if err := acc.add(chunk, onDelta); err != nil {
				return partial(err)
			}
		}
	}
	return partial(nil)
}

// accumulator joins a stream's chunks: text, tool calls by index, usage.
type accumulator struct {
	text   strings.Builder
	calls  []ToolCall
	finish string
	usage  Usage
	model  string
}

func (a *accumulator) add(c openai.ChatCompletionStreamResponse, onDelta func(string) error) error {
	if c.Model != "" {
		a.model = c.Model
	}
	if c.Usage != nil {
		a.usage = usageOf(c.Usage)
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		if ch.FinishReason != "" {
			a.finish = string(ch.FinishReason)
		}
		for _, tc := range ch.Delta.ToolCalls {
			i := len(a.calls)
			if tc.Index != nil {
				i = *tc.Index
			}
			if i < 0 || i > 64 {
				return fmt.Errorf("llm: tool call index %d out of range", i)
			}
			for len(a.calls) <= i {
				a.calls = append(a.calls, ToolCall{})
			}
			if tc.ID != "" {
				a.calls[i].ID = tc.ID
			}
			if tc.Function.Name != "" {
				a.calls[i].Name = tc.Function.Name
			}
			a.calls[i].Arguments += tc.Function.Arguments
		}
		if ch.Delta.Content != "" {
			a.text.WriteString(ch.Delta.Content)
			if onDelta != nil {
				if err := onDelta(ch.Delta.Content); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (a *accumulator) response() Response {
	return Response{Text: a.text.String(), ToolCalls: a.calls, FinishReason: a.finish, Usage: a.usage, Model: a.model}
}

// attempt runs call on one provider with its retries, timeout and circuit
// breaker. The returned context stays alive for the result's use (a
// stream); cancel releases it.
func (r *Router) attempt(ctx context.Context, p *provider, call func(context.Context) error) (cancel context.CancelFunc, err error) {
	var keep context.CancelFunc
	op := func() (struct{}, error) {
		actx, acancel := context.WithTimeout(ctx, p.cfg.Timeout)
		hint := &retryHint{}
		actx = context.WithValue(actx, hintKey{}, hint)
		_, err := p.breaker.Execute(func() (any, error) { return nil, call(actx) })
		switch {
		case err == nil:
			r.observe(p.cfg.Name, OutcomeOK)
			keep = acancel
			return struct{}{}, nil
		case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
			acancel()
			r.observe(p.cfg.Name, OutcomeOpen)
			return struct{}{}, backoff.Permanent(fmt.Errorf("llm provider %s: %w", p.cfg.Name, err))
		case ctx.Err() != nil:
			acancel()
			r.observe(p.cfg.Name, OutcomeCancelled)
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		acancel()
		err = fmt.Errorf("llm provider %s: %w", p.cfg.Name, err)
		if !retryable(err) {
			r.observe(p.cfg.Name, OutcomeFailed)
			return struct{}{}, backoff.Permanent(err)
		}
		r.observe(p.cfg.Name, OutcomeRetryable)
		if hint.ok {
			if hint.after > p.cfg.MaxRetryAfter {
				return struct{}{}, backoff.Permanent(fmt.Errorf("%w (Retry-After %s is longer than this provider's limit of %s)",
					err, hint.after, p.cfg.MaxRetryAfter))
			}
			return struct{}{}, &retryAfter{err: err, wait: &backoff.RetryAfterError{Duration: hint.after}}
		}
		return struct{}{}, err
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.backoff
	_, err = backoff.Retry(ctx, op,
		backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(p.cfg.MaxRetries)+1), //nolint:gosec // validated non-negative
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, d time.Duration) {
			r.log.Info("llm provider retry", "provider", p.cfg.Name, "after", d.String(), "error", err.Error())
		}))
	if err != nil {
		return nil, err
	}
	return keep, nil
}

// retryAfter is a retryable error whose provider asked for a delay: the
// backoff library waits that long (RetryAfterError) and the cause stays
// visible when the retries run out.
type retryAfter struct {
	err  error
	wait *backoff.RetryAfterError
}

func (e *retryAfter) Error() string   { return e.err.Error() }
func (e *retryAfter) Unwrap() []error { return []error{e.err, e.wait} }

// race runs call on the providers in order: the next starts when one fails,
// or, with hedging, when the running ones have not answered within the
// hedge delay. The first success wins and the others are cancelled (discard
// releases a result that lost). done releases the winner's context.
func race[T any](ctx context.Context, r *Router, call func(context.Context, *provider) (T, error), discard func(T)) (T, *provider, context.CancelFunc, error) {
	type result struct {
		v      T
		p      *provider
		cancel context.CancelFunc
		err    error
	}
	var zero T
	results := make(chan result, len(r.providers))
	cancels := map[*provider]context.CancelFunc{}
	next, running := 0, 0
	var errs []error
	start := func() bool {
		for next < len(r.providers) {
			p := r.providers[next]
			next++
			if p.breaker.State() == gobreaker.StateOpen {
				r.observe(p.cfg.Name, OutcomeOpen)
				errs = append(errs, fmt.Errorf("llm provider %s: %w", p.cfg.Name, gobreaker.ErrOpenState))
				continue
			}
			pctx, pcancel := context.WithCancel(ctx)
			cancels[p] = pcancel
			running++
			go func() {
				var v T
				keep, err := r.attempt(pctx, p, func(actx context.Context) error {
					var err error
					v, err = call(actx, p)
					return err
				})
				results <- result{v: v, p: p, cancel: keep, err: err}
			}()
			return true
		}
		return false
	}
	stopAll := func() {
		for _, c := range cancels {
			c()
		}
	}
	start()
	var hedge *time.Timer
	var hedgeC <-chan time.Time
	arm := func() {
		if r.hedge > 0 && next < len(r.providers) {
			if hedge != nil {
				hedge.Stop()
			}
			hedge = time.NewTimer(r.hedge)
			hedgeC = hedge.C
		} else {
			hedgeC = nil
		}
	}
	arm()
	defer func() {
		if hedge != nil {
			hedge.Stop()
		}
	}()
	for running > 0 {
		select {
		case res := <-results:
			running--
			if res.err == nil {
				// The winner keeps its context; every other is cancelled and
				// whatever it still returns is released.
				pending := running
				go func() {
					for range pending {
						if lost := <-results; lost.err == nil {
							if discard != nil {
								discard(lost.v)
							}
							lost.cancel()
						}
					}
				}()
				for p, c := range cancels {
					if p != res.p {
						c()
					}
				}
				winner, own := res.cancel, cancels[res.p]
				return res.v, res.p, func() { winner(); own() }, nil
			}
			errs = append(errs, res.err)
			if ctx.Err() != nil {
				stopAll()
				return zero, nil, nil, ctx.Err()
			}
			if running == 0 && start() {
				arm()
			}
		case <-hedgeC:
			r.log.Info("llm hedging: starting the next provider", "after", r.hedge.String())
			start()
			arm()
		}
	}
	stopAll()
	if ctx.Err() != nil {
		return zero, nil, nil, ctx.Err()
	}
	return zero, nil, nil, errors.Join(append([]error{ErrNoProvider}, errs...)...)
}
