package gateway

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

func TestNewValidatesDeps(t *testing.T) {
	t.Parallel()
	_, err := New(Config{}, Deps{})
	require.ErrorContains(t, err, "Assessments is required")

	// Every port taken away from a complete set is named, and New
	// refuses to build without it.
	full := newFakePorts(t).deps
	reg := telemetry.NewRegistry()
	full.Metrics, err = telemetry.NewMetrics(reg)
	require.NoError(t, err)
	full.Registry = reg
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	full.Verifier = auth.NewVerifier(key.Public().(ed25519.PublicKey), testIssuer, testAudience)
	_, err = New(Config{}, full)
	require.NoError(t, err, "the complete set builds")
	tests := []struct {
		name  string
		field string
		drop  func(*Deps)
	}{
		{"assessments", "Assessments", func(d *Deps) { d.Assessments = nil }},
		{"queue", "Queue", func(d *Deps) { d.Queue = nil }},
		{"events", "Events", func(d *Deps) { d.Events = nil }},
		{"erasure store", "ErasureStore", func(d *Deps) { d.ErasureStore = nil }},
		{"erasure broker", "ErasureBroker", func(d *Deps) { d.ErasureBroker = nil }},
		{"reports", "Store.Reports", func(d *Deps) { d.Store.Reports = nil }},
		{"recommendations", "Store.Recommendations", func(d *Deps) { d.Store.Recommendations = nil }},
		{"webhooks", "Store.Webhooks", func(d *Deps) { d.Store.Webhooks = nil }},
		{"audit", "Store.Audit", func(d *Deps) { d.Store.Audit = nil }},
		{"report cache", "ReportCache", func(d *Deps) { d.ReportCache = nil }},
		{"limiter", "Limiter", func(d *Deps) { d.Limiter = nil }},
		{"slots", "Slots", func(d *Deps) { d.Slots = nil }},
		{"ledger", "LLMBudget", func(d *Deps) { d.LLMBudget = nil }},
		{"verifier", "Verifier", func(d *Deps) { d.Verifier = nil }},
		{"registry", "Registry", func(d *Deps) { d.Registry = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := full
			tc.drop(&d)
			_, err := New(Config{}, d)
			require.EqualError(t, err, "gateway: "+tc.field+" is required")
		})
	}
}

// firstOnSubject reads the first message on subject of stream.
func firstOnSubject(t *testing.T, b *bus.Bus, stream, subject string) *bus.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got *bus.Event
	err := b.ReplayFrom(ctx, stream, subject, 0, func(e *bus.Event) error {
		got = e
		cancel()
		return nil
	})
	require.NoError(t, err)
	require.NotNil(t, got, "no message on %s", subject)
	return got
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	past := time.Now().Add(-2 * time.Hour)
	expiredTok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: testIssuer, Subject: "u", Audience: jwt.ClaimStrings{testAudience}, ID: "j1",
			IssuedAt: jwt.NewNumericDate(past), NotBefore: jwt.NewNumericDate(past), ExpiresAt: jwt.NewNumericDate(past.Add(time.Hour)),
		},
		Tenant: "acme",
	})
	expiredTok.Header["kid"] = auth.KeyID(e.key.Public().(ed25519.PublicKey))
	expired, err := expiredTok.SignedString(e.key)
	require.NoError(t, err)
	otherKey, err := auth.GenerateKey()
	require.NoError(t, err)
	foreign, err := auth.NewSigner(otherKey, testIssuer, testAudience).Issue("u", "acme", nil, time.Hour)
	require.NoError(t, err)
	routes := []struct{ method, path string }{
		{http.MethodPost, "/v1/assessments"},
		{http.MethodGet, "/v1/assessments"},
		{http.MethodGet, "/v1/assessments/0190f7a4-5c1e-7c7a-9a53-3f4a1b2c3d4e"},
		{http.MethodGet, "/v1/assessments/0190f7a4-5c1e-7c7a-9a53-3f4a1b2c3d4e/report"},
		{http.MethodGet, "/v1/assessments/0190f7a4-5c1e-7c7a-9a53-3f4a1b2c3d4e/events"},
	}
	tests := []struct {
		name, header, challenge string
	}{
		{name: "no token", header: "", challenge: `Bearer realm="infra-mind"`},
		{name: "not bearer", header: "Basic dXNlcjpwYXNz", challenge: `error="invalid_token"`},
		{name: "garbage token", header: "Bearer abc.def.ghi", challenge: `error="invalid_token"`},
		{name: "expired token", header: "Bearer " + expired, challenge: `error="invalid_token"`},
		{name: "token from another issuer key", header: "Bearer " + foreign, challenge: `error="invalid_token"`},
	}
	for _, tc := range tests {
		for _, r := range routes {
			t.Run(tc.name+" "+r.method+" "+r.path, func(t *testing.T) {
				t.Parallel()
				hdr := map[string]string{}
				if tc.header != "" {
					hdr["Authorization"] = tc.header
				}
				resp := e.do(t, r.method, r.path, "", "application/json", strings.NewReader("{}"), hdr)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Contains(t, resp.Header.Get("WWW-Authenticate"), tc.challenge)
				p := decodeBody[Problem](t, resp)
				require.Equal(t, ProblemUnauthorized, p.Type)
			})
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{KeepAlive: time.Hour})
	id := e.create(t, "tenant-a", "A's secret plan")

	for _, path := range []string{"/v1/assessments/" + id, "/v1/assessments/" + id + "/report", "/v1/assessments/" + id + "/events"} {
		t.Run(path, func(t *testing.T) {
			resp := e.do(t, http.MethodGet, path, "tenant-b", "", nil, nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			p := decodeBody[Problem](t, resp)
			require.Equal(t, ProblemNotFound, p.Type)
			require.NotContains(t, p.Detail, "secret")
		})
	}
	resp := e.do(t, http.MethodGet, "/v1/assessments", "tenant-b", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, decodeBody[api.AssessmentList](t, resp).Items)

	resp = e.do(t, http.MethodGet, "/v1/assessments/"+id, "tenant-a", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	resp = e.do(t, http.MethodGet, "/v1/assessments", "tenant-a", "", nil, nil)
	items := decodeBody[api.AssessmentList](t, resp).Items
	require.Len(t, items, 1)
	require.Equal(t, id, items[0].ID)
	require.Nil(t, items[0].Request, "lists omit the request body")

	resp = e.do(t, http.MethodGet, "/v1/assessments/not-a-uuid..*", "tenant-a", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	var want []string
	for i := range 5 {
		want = append([]string{e.create(t, "acme", fmt.Sprintf("plan %d", i))}, want...) // newest first
		time.Sleep(2 * time.Millisecond)                                                 // distinct created_at
	}
	var got []string
	cursor := ""
	pages := 0
	for {
		path := "/v1/assessments?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp := e.do(t, http.MethodGet, path, "acme", "", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		page := decodeBody[api.AssessmentList](t, resp)
		require.LessOrEqual(t, len(page.Items), 2)
		for _, it := range page.Items {
			got = append(got, it.ID)
			require.Equal(t, api.AssessmentStatus("queued"), it.Status)
			require.Equal(t, "/v1/assessments/"+it.ID, it.Links.Self)
		}
		pages++
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
		require.Less(t, pages, 10)
	}
	require.Equal(t, want, got)
	require.Equal(t, 3, pages)

	tests := []struct{ name, query, field string }{
		{name: "bad cursor", query: "cursor=bm9wZQ", field: "cursor"},
		{name: "zero limit", query: "limit=0", field: "limit"},
		{name: "huge limit", query: "limit=101", field: "limit"},
		{name: "text limit", query: "limit=ten", field: "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.do(t, http.MethodGet, "/v1/assessments?"+tc.query, "acme", "", nil, nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			p := decodeBody[Problem](t, resp)
			require.Equal(t, tc.field, p.Errors[0].Field)
		})
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	ctx := context.Background()
	running := f.finished(t, "acme", "running", "running")
	resp := f.do(t, http.MethodGet, "/v1/assessments/"+running+"/report", "acme", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	p := decodeBody[Problem](t, resp)
	require.Equal(t, ProblemReportNotReady, p.Type)
	require.Contains(t, p.Detail, "/v1/assessments/"+running+"/events", "a running assessment's answer points at its progress")

	id := f.finished(t, "acme", "report me", "completed")
	resp = f.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", "acme", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	p = decodeBody[Problem](t, resp)
	require.Equal(t, ProblemReportNotReady, p.Type, "finished, report not stored yet")
	require.Contains(t, p.Detail, "ended as completed")

	require.NoError(t, f.reports.Upsert(ctx, store.Report{
		TenantID: "acme", AssessmentID: id, Status: "completed",
		Body: `{"assessment_id":"` + id + `","recommendations":[{"rank":1,"provider":"gcp"}]}`,
	}))
	for _, wantCache := range []string{"miss", "hit"} {
		resp = f.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", "acme", "", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, wantCache, resp.Header.Get("X-Cache"))
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
		body := decodeBody[map[string]any](t, resp)
		require.Equal(t, id, body["assessment_id"])
	}

	// Another tenant never gets the cached copy.
	resp = f.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", "globex", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, ProblemNotFound, decodeBody[Problem](t, resp).Type)

	// The cache is an optimisation: with Redis down the store answers.
	f.cache.SetFail(errors.New("connection refused"))
	resp = f.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", "acme", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "miss", resp.Header.Get("X-Cache"))
	require.NoError(t, resp.Body.Close())
}

// publishStatus publishes a progress event the way the synthesizer does.
func publishStatus(t *testing.T, b *bus.Bus, tenant, id, status, family string) {
	t.Helper()
	msgID := assessment.DeterministicID(id, status, family)
	require.NoError(t, b.Publish(context.Background(), bus.Message{
		ID: msgID, Type: bus.TypeStatusChanged, Source: "/services/synthesizer",
		Subject: bus.SubjectStatus(tenant, id), Tenant: tenant, CESubject: id, Time: time.Now(),
		Data: &inframindv1.AssessmentStatusChanged{
			Metadata: &inframindv1.Metadata{EventId: msgID, TenantId: tenant, AssessmentId: id},
			Status:   status, Family: family, TotalFamilies: 6,
		},
	}))
}

func publishCompleted(t *testing.T, b *bus.Bus, tenant, id string) {
	t.Helper()
	msgID := assessment.DeterministicID(id, "completed-event")
	require.NoError(t, b.Publish(context.Background(), bus.Message{
		ID: msgID, Type: bus.TypeAssessmentCompleted, Source: "/services/synthesizer",
		Subject: bus.SubjectCompleted(tenant, id), Tenant: tenant, CESubject: id, Time: time.Now(),
		Data: &inframindv1.AssessmentCompleted{
			Metadata: &inframindv1.Metadata{EventId: msgID, TenantId: tenant, AssessmentId: id},
			Status:   "completed", ReportPath: "/v1/assessments/" + id + "/report",
		},
	}))
}

func openStream(t *testing.T, e *env, path, tenant string, hdr map[string]string) (*http.Response, *sseReader) {
	t.Helper()
	resp := e.do(t, http.MethodGet, path, tenant, "", nil, hdr)
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return resp, readSSE(resp.Body)
}

func statusOf(t *testing.T, ev sseEvent) string {
	t.Helper()
	var st inframindv1.AssessmentStatusChanged
	require.NoError(t, protojson.Unmarshal([]byte(ev.Data), &st), ev.Data)
	return st.GetStatus() + "/" + st.GetFamily()
}

func TestEventsReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{KeepAlive: 50 * time.Millisecond})
	other := e.create(t, "acme", "noise") // its events must never appear in our stream
	id := e.create(t, "acme", "watch me")
	path := "/v1/assessments/" + id + "/events"

	publishStatus(t, e.bus, "acme", id, "family_completed", "strategy")
	publishStatus(t, e.bus, "acme", other, "family_completed", "strategy")

	resp, first := openStream(t, e, path, "acme", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ev1 := first.next(t)
	require.Equal(t, "status", ev1.Event)
	require.Equal(t, "queued/", statusOf(t, ev1))
	ev2 := first.next(t)
	require.Equal(t, "family_completed/strategy", statusOf(t, ev2))

	// Live: an event published while connected arrives.
	publishStatus(t, e.bus, "acme", id, "family_completed", "cloud")
	ev3 := first.next(t)
	require.Equal(t, "family_completed/cloud", statusOf(t, ev3))
	select {
	case c := <-first.Comments:
		require.Equal(t, "keep-alive", c)
	case <-time.After(10 * time.Second):
		t.Fatal("no keep-alive comment")
	}
	resp.Body.Close() // the client drops

	publishStatus(t, e.bus, "acme", id, "family_completed", "mlops")
	publishCompleted(t, e.bus, "acme", id)

	for _, mode := range []string{"header", "query"} {
		t.Run("reconnect with "+mode, func(t *testing.T) {
			p, hdr := path, map[string]string{}
			if mode == "header" {
				hdr["Last-Event-ID"] = ev2.ID
			} else {
				p += "?last_event_id=" + ev2.ID
			}
			_, again := openStream(t, e, p, "acme", hdr)
			got := again.next(t)
			require.Equal(t, ev3.ID, got.ID, "replay starts right after Last-Event-ID")
			require.Equal(t, "family_completed/cloud", statusOf(t, got))
			require.Equal(t, "family_completed/mlops", statusOf(t, again.next(t)))
			done := again.next(t)
			require.Equal(t, "completed", done.Event)
			require.Contains(t, done.Data, `"report_path"`)
			select {
			case _, ok := <-again.Events:
				require.False(t, ok, "the stream ends after the completed event")
			case <-time.After(15 * time.Second):
				t.Fatal("stream did not end after completed")
			}
		})
	}

	// Once finished, a client that saw the completed event is told to stop.
	_, _, err := e.store.Assessments.Finish(context.Background(), "acme", id, "completed", nil, "", time.Now())
	require.NoError(t, err)
	seq, ok, err := e.srv.deps.Events.Last(context.Background(), "acme", id, app.EventCompleted)
	require.NoError(t, err)
	require.True(t, ok)
	resp, _ = openStream(t, e, path, "acme", map[string]string{"Last-Event-ID": fmt.Sprint(seq)})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	resp, _ = openStream(t, e, path, "acme", map[string]string{"Last-Event-ID": "abc"})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestEventsStreamEndsOnShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{KeepAlive: time.Hour})
	id := e.create(t, "acme", "long one")
	_, s := openStream(t, e, "/v1/assessments/"+id+"/events", "acme", nil)
	require.Equal(t, "queued/", statusOf(t, s.next(t)))
	e.srv.closeStreams()
	select {
	case _, ok := <-s.Events:
		require.False(t, ok)
	case <-time.After(15 * time.Second):
		t.Fatal("stream still open after shutdown began")
	}
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		resp := e.do(t, http.MethodGet, path, "", "", nil, nil)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equalf(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
		if path == "/readyz" {
			// Ready or not, and nothing of which dependencies there are.
			require.JSONEq(t, `{"status":"ready"}`, string(body))
		}
	}
	// Metrics are on the operations listener, not the public port; the requests above are counted there.
	resp := e.do(t, http.MethodGet, "/metrics", "", "", nil, nil)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	families, err := e.srv.deps.Registry.Gather()
	require.NoError(t, err)
	var counted bool
	for _, f := range families {
		if f.GetName() == "inframind_http_requests_total" {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					counted = counted || (l.GetName() == "route" && l.GetValue() == "/healthz")
				}
			}
		}
	}
	require.True(t, counted, "the public requests are still counted for the operations listener")
}

func TestErrorsNeverLeakOrPanic(t *testing.T) {
	t.Parallel()
	e := newEnvOnFakes(t, Config{})
	e.srv.echo.GET("/test/fail", func(echo.Context) error {
		return errors.New("dial mongodb://admin:hunter2@db:27017 failed")
	})
	e.srv.echo.GET("/test/panic", func(echo.Context) error { panic("hunter2 exploded") })
	for _, path := range []string{"/test/fail", "/test/panic"} {
		resp := e.do(t, http.MethodGet, path, "", "", nil, nil)
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.NotContains(t, string(body), "hunter2")
		var p Problem
		require.NoError(t, json.Unmarshal(body, &p))
		require.Equal(t, ProblemInternal, p.Type)
		require.NotEmpty(t, p.RequestID)
	}
	resp := e.do(t, http.MethodDelete, "/v1/assessments", "acme", "", nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp.Body.Close()
	resp = e.do(t, http.MethodGet, "/healthz", "", "", nil, map[string]string{"X-Request-Id": "client-abc.1"})
	require.Equal(t, "client-abc.1", resp.Header.Get("X-Request-Id"), "a well-formed client id is kept")
	resp.Body.Close()
	resp = e.do(t, http.MethodGet, "/healthz", "", "", nil, map[string]string{"X-Request-Id": strings.Repeat("x", 500)})
	require.Len(t, resp.Header.Get("X-Request-Id"), 32, "an oversized client id is replaced")
	resp.Body.Close()
	resp = e.do(t, http.MethodGet, "/nowhere", "", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
	resp.Body.Close()
}

func TestServeShutsDownWithOpenStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Addr: "127.0.0.1:0", KeepAlive: time.Hour})
	id := e.create(t, "acme", "served")
	require.NoError(t, e.srv.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx) }()

	req, err := http.NewRequest(http.MethodGet, "http://"+e.srv.Addr()+"/v1/assessments/"+id+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.token("acme"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	s := readSSE(resp.Body)
	require.Equal(t, "queued/", statusOf(t, s.next(t)))

	cancel()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return with a stream open")
	}
	select {
	case _, ok := <-s.Events:
		require.False(t, ok, "the stream ends on shutdown")
	case <-time.After(15 * time.Second):
		t.Fatal("stream still open after shutdown")
	}
}

// TestEventsWaitForTheRealCompletedEvent drives the window between the
// synthesizer closing an assessment in the store and its completed event
// reaching the stream: a client connecting then gets the stored completed
// event, with its id, once it is published, and never one made up from the store.
func TestEventsWaitForTheRealCompletedEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{KeepAlive: time.Hour})
	id := e.create(t, "acme", "closing")
	publishStatus(t, e.bus, "acme", id, "family_completed", "cloud")
	_, _, err := e.store.Assessments.Finish(context.Background(), "acme", id, "completed", nil, "", time.Now())
	require.NoError(t, err)

	resp, s := openStream(t, e, "/v1/assessments/"+id+"/events", "acme", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "queued/", statusOf(t, s.next(t)))
	cloud := s.next(t)
	require.Equal(t, "family_completed/cloud", statusOf(t, cloud))

	// Only now, with the stream already sent what the store and the stream
	// held, is the completed event published.
	publishCompleted(t, e.bus, "acme", id)
	done := s.next(t)
	require.Equal(t, "completed", done.Event)
	seq, ok, err := e.srv.deps.Events.Last(context.Background(), "acme", id, app.EventCompleted)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, fmt.Sprint(seq), done.ID, "the client gets the stored event, with its id")
	require.Contains(t, done.Data, `"report_path"`)
	select {
	case _, ok := <-s.Events:
		require.False(t, ok, "the stream ends after the completed event")
	case <-time.After(15 * time.Second):
		t.Fatal("stream did not end after completed")
	}
}

// TestEventsNeverInventACompletedEvent: when the completed event did not
// come within the wait (or is no longer retained), the stream replays what
// the stream holds and ends; a client that has seen it all is told to stop.
func TestEventsNeverInventACompletedEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{KeepAlive: time.Hour, CompletedWait: time.Minute})
	id := e.create(t, "acme", "long closed")
	publishStatus(t, e.bus, "acme", id, "family_completed", "cloud")
	_, _, err := e.store.Assessments.Finish(context.Background(), "acme", id, "partial", []string{"mlops"}, "deadline passed", time.Now().Add(-time.Hour))
	require.NoError(t, err)

	path := "/v1/assessments/" + id + "/events"
	resp, s := openStream(t, e, path, "acme", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "queued/", statusOf(t, s.next(t)))
	last := s.next(t)
	require.Equal(t, "family_completed/cloud", statusOf(t, last))
	select {
	case ev, ok := <-s.Events:
		require.False(t, ok, "no event after the stored ones, got %+v", ev)
	case <-time.After(15 * time.Second):
		t.Fatal("stream did not end")
	}
	resp, _ = openStream(t, e, path, "acme", map[string]string{"Last-Event-ID": last.ID})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	// Closed moments before the wait runs out: the stream follows, then ends
	// at the end of the wait with nothing made up.
	soon := e.create(t, "acme", "closed just now")
	_, _, err = e.store.Assessments.Finish(context.Background(), "acme", soon, "failed", nil, "", time.Now().Add(-time.Minute+time.Second))
	require.NoError(t, err)
	resp, s = openStream(t, e, "/v1/assessments/"+soon+"/events", "acme", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "queued/", statusOf(t, s.next(t)))
	select {
	case ev, ok := <-s.Events:
		require.False(t, ok, "no event after the stored ones, got %+v", ev)
	case <-time.After(15 * time.Second):
		t.Fatal("stream did not end when the wait ran out")
	}
}
