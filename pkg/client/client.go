// Package client is a Go client of the gateway's REST API, used by the
// infra-mind CLI, the end-to-end tests and the benchmarks.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-retry"
	"github.com/tmaxmax/go-sse"

	"github.com/infra-mind/infra-mind/pkg/api"
)

// Client calls one gateway with one bearer token.
type Client struct {
	base   *url.URL
	token  string
	http   *http.Client
	strict bool
	// busyRetries is how often a request refused with 429 and Retry-After
	// is sent again after the wait the gateway asked for.
	busyRetries uint64
}

// DefaultBusyRetries is how often a request the gateway refused with 429
// and Retry-After (a rate limit, or the pipeline already holding as many
// assessments as it can finish in time) is sent again, each after the wait
// the gateway named.
const DefaultBusyRetries = 5

// maxRetryAfter caps one wait the gateway asks for.
const maxRetryAfter = 2 * time.Minute

// BusyRetries sets how often a request refused with 429 and Retry-After is
// retried (DefaultBusyRetries; 0 returns the refusal at once). A 429 is
// answered before the request has any effect, so retrying a submission
// creates no duplicate.
func BusyRetries(n uint64) Option { return func(c *Client) { c.busyRetries = n } }

// Option configures a Client.
type Option func(*Client)

// Strict makes the client refuse an answer that holds a field the API
// document does not name, for conformance tests of a gateway. Leave it off
// elsewhere, so that fields a newer gateway adds do not break older clients.
func Strict() Option { return func(c *Client) { c.strict = true } }

// New returns a client of the gateway at baseURL.
func New(baseURL, token string, hc *http.Client, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("client: gateway URL %q is not an absolute URL", baseURL)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{base: u, token: token, http: hc, busyRetries: DefaultBusyRetries}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// decode reads one JSON answer into out, refusing unknown fields when the
// client is strict.
func (c *Client) decode(r io.Reader, out any) error {
	dec := json.NewDecoder(r)
	if c.strict {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(out)
}

// Problem is an RFC 9457 error returned by the gateway: the document's
// Problem schema, as an error.
type Problem struct {
	api.Problem
	// RetryAfter is the wait the answer's Retry-After header asked for
	// (whole seconds), 0 without one.
	RetryAfter time.Duration
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.Status, p.Title)
	if d := p.DetailText(); d != "" {
		b.WriteString(": " + d)
	}
	for _, e := range p.FieldErrors() {
		fmt.Fprintf(&b, "\n  %s: %s", e.Field, e.Reason)
	}
	return b.String()
}

// DetailText is the problem's detail, "" when it has none.
func (p *Problem) DetailText() string {
	if p.Detail == nil {
		return ""
	}
	return *p.Detail
}

// FieldErrors are the fields an invalid request got wrong, if any.
func (p *Problem) FieldErrors() []api.FieldError {
	if p.Errors == nil {
		return nil
	}
	return *p.Errors
}

// Submit posts an assessment request (JSON or YAML, by contentType).
func (c *Client) Submit(ctx context.Context, body []byte, contentType string) (api.AssessmentCreated, error) {
	var out api.AssessmentCreated
	err := c.do(ctx, http.MethodPost, "/v1/assessments", body, contentType, http.StatusAccepted, &out)
	return out, err
}

// Get returns one assessment.
func (c *Client) Get(ctx context.Context, id string) (api.Assessment, error) {
	var out api.Assessment
	err := c.do(ctx, http.MethodGet, "/v1/assessments/"+url.PathEscape(id), nil, "", http.StatusOK, &out)
	return out, err
}

// Report returns the report of an assessment. A strict client refuses a
// report holding a member the API document does not name.
func (c *Client) Report(ctx context.Context, id string) (api.Report, error) {
	var out api.Report
	err := c.do(ctx, http.MethodGet, reportPath(id), nil, "", http.StatusOK, &out)
	return out, err
}

// ReportJSON returns the report of an assessment as the gateway sent it,
// for keeping: members added to the report after this client was built
// are kept too.
func (c *Client) ReportJSON(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, reportPath(id), nil, "", http.StatusOK, &out)
	return out, err
}

func reportPath(id string) string { return "/v1/assessments/" + url.PathEscape(id) + "/report" }

// Event is one server-sent progress event.
type Event struct {
	ID   uint64
	Type string // status or completed
	Data json.RawMessage
}

// ErrNoMoreEvents is returned by Events when the gateway answers 204: the
// assessment has ended and its event stream holds nothing more for this
// client (its completed event was not published in time or is no longer
// retained). Get returns the assessment's outcome.
var ErrNoMoreEvents = errors.New("the assessment has ended and its event stream holds nothing more")

// errCompleted ends a stream after its completed event.
var errCompleted = errors.New("completed")

// fnError carries the callback's own error through the retry loop.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// Events streams an assessment's progress to fn from after lastID (0 = from
// the start), reconnecting with Last-Event-ID when the connection drops, and
// returns after the completed event or when fn or ctx ends it. Delivery is at
// least once, so fn sees each event once by its CloudEvent id
// (metadata.event_id): a repeat is skipped. When the stream has nothing more
// to send before a completed event it returns ErrNoMoreEvents.
func (c *Client) Events(ctx context.Context, id string, lastID uint64, fn func(Event) error) error {
	backoff := retry.WithMaxRetries(20, retry.WithCappedDuration(5*time.Second, retry.NewExponential(200*time.Millisecond)))
	seen := map[string]bool{}
	once := func(e Event) error {
		// Status and completed events both carry the metadata block.
		var ev struct {
			Metadata api.EventMetadata `json:"metadata"`
		}
		if json.Unmarshal(e.Data, &ev) == nil && ev.Metadata.EventID != nil && *ev.Metadata.EventID != "" {
			id := *ev.Metadata.EventID
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		return fn(e)
	}
	err := retry.Do(ctx, backoff, func(ctx context.Context) error {
		err := c.stream(ctx, id, &lastID, once)
		var (
			p     *Problem
			fnErr fnError
		)
		switch {
		case err == nil:
			// The server closed the stream before the end: resume.
			return retry.RetryableError(errors.New("event stream closed before the assessment ended"))
		case errors.Is(err, errCompleted):
			return nil
		case errors.Is(err, ErrNoMoreEvents):
			return err
		case errors.As(err, &fnErr):
			return fnErr.err
		case errors.As(err, &p) && p.Status < 500:
			return err
		default:
			return retry.RetryableError(err)
		}
	})
	return err
}

func (c *Client) stream(ctx context.Context, id string, lastID *uint64, fn func(Event) error) error {
	req, err := c.request(ctx, http.MethodGet, "/v1/assessments/"+url.PathEscape(id)+"/events", nil, "")
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if *lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(*lastID, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("open event stream: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent:
		return ErrNoMoreEvents
	default:
		return decodeProblem(resp)
	}
	for ev, err := range sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: 1 << 20}) {
		if err != nil {
			return fmt.Errorf("read event stream: %w", err)
		}
		seq, perr := strconv.ParseUint(ev.LastEventID, 10, 64)
		if perr != nil {
			return fmt.Errorf("event id %q is not a sequence: %w", ev.LastEventID, perr)
		}
		if seq <= *lastID {
			continue
		}
		*lastID = seq
		if err := fn(Event{ID: seq, Type: ev.Type, Data: json.RawMessage(ev.Data)}); err != nil {
			return fnError{err}
		}
		if ev.Type == "completed" {
			return errCompleted
		}
	}
	return nil
}

func (c *Client) request(ctx context.Context, method, path string, body []byte, contentType string) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, r)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends one request and decodes its answer, sending it again after the
// wait a 429 with Retry-After names (refused before it had any effect).
func (c *Client) do(ctx context.Context, method, path string, body []byte, contentType string, want int, out any) error {
	var wait time.Duration
	backoff := retry.WithMaxRetries(c.busyRetries, retry.BackoffFunc(func() (time.Duration, bool) { return wait, false }))
	return retry.Do(ctx, backoff, func(ctx context.Context) error {
		err := c.doOnce(ctx, method, path, body, contentType, want, out)
		var p *Problem
		if errors.As(err, &p) && p.Status == http.StatusTooManyRequests && p.RetryAfter > 0 {
			wait = min(p.RetryAfter, maxRetryAfter)
			return retry.RetryableError(err)
		}
		return err
	})
}

func (c *Client) doOnce(ctx context.Context, method, path string, body []byte, contentType string, want int, out any) error {
	req, err := c.request(ctx, method, path, body, contentType)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != want {
		return decodeProblem(resp)
	}
	if err := c.decode(resp.Body, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

func decodeProblem(resp *http.Response) error {
	p := &Problem{Problem: api.Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if len(b) > 0 && json.Unmarshal(b, &p.Problem) != nil {
		detail := strings.TrimSpace(string(b))
		p.Detail = &detail
	}
	p.Status = resp.StatusCode
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
		p.RetryAfter = time.Duration(secs) * time.Second
	}
	return p
}
