package gateway

import (
	"bytes"
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
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestNewValidatesDeps(t *testing.T) {
	t.Parallel()
	_, err := New(Config{}, Deps{})
	require.ErrorContains(t, err, "Bus is required")
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

func countOnSubject(t *testing.T, b *bus.Bus, stream, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := b.JS.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	return info.State.Subjects[subject]
}

func TestCreateAssessment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AssessmentTimeout: 90 * time.Second})
	ctx := context.Background()

	tests := []struct {
		name, contentType string
		body              []byte
		wantName          string
	}{
		{name: "yaml", contentType: "application/yaml", body: readExample(t, "chatbot-70b-hipaa-us.yaml"), wantName: "Patient support chatbot (Llama 3.1 70B)"},
		{name: "json", contentType: "application/json; charset=utf-8", wantName: "JSON bot",
			body: []byte(`{"name":"JSON bot","business":{"company_size":"smb","regions":["eu"]},"workloads":[{"name":"api","kind":"general","peak_requests_per_second":20}]}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			resp := e.do(t, http.MethodPost, "/v1/assessments", "acme", tc.contentType, bytes.NewReader(tc.body), nil)
			require.Equal(t, http.StatusAccepted, resp.StatusCode)
			created := decodeBody[createdBody](t, resp)
			require.Equal(t, "/v1/assessments/"+created.ID, resp.Header.Get("Location"))
			require.Equal(t, "queued", created.Status)
			require.Equal(t, "/v1/assessments/"+created.ID, created.StatusURL)
			require.Equal(t, "/v1/assessments/"+created.ID+"/events", created.EventsURL)
			require.Equal(t, "/v1/assessments/"+created.ID+"/report", created.ReportURL)

			a, err := e.store.Assessments.Get(ctx, "acme", created.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantName, a.Name)
			require.Equal(t, "queued", a.Status)
			require.Len(t, a.Families, 6)
			for _, f := range assessment.Families() {
				require.Equal(t, "pending", a.Families[string(f)].Status)
			}
			require.NotEmpty(t, a.CorrelationID)
			require.WithinDuration(t, before.Add(90*time.Second), a.Deadline, 10*time.Second)

			// The command is on the stream, with the request and every family.
			var cmd inframindv1.RequestAssessment
			// The subject is shared by the parallel cases: find ours by id.
			found := false
			ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, e.bus.ReplayFrom(ctx2, bus.StreamAssessments, bus.SubjectRequested("acme"), 0, func(ev *bus.Event) error {
				if ev.ID != created.ID {
					return nil
				}
				require.Equal(t, bus.TypeAssessmentRequested, ev.Type)
				require.Equal(t, "acme", ev.Tenant)
				require.Equal(t, created.ID, ev.CESubject)
				require.NoError(t, ev.Decode(&cmd))
				found = true
				cancel()
				return nil
			}))
			require.True(t, found)
			require.Equal(t, created.ID, cmd.GetMetadata().GetAssessmentId())
			require.Equal(t, "acme", cmd.GetMetadata().GetTenantId())
			require.Equal(t, a.CorrelationID, cmd.GetMetadata().GetCorrelationId())
			require.Equal(t, created.ID, cmd.GetMetadata().GetEventId())
			require.Equal(t, tc.wantName, cmd.GetRequest().GetName())
			require.Len(t, cmd.GetFamilies(), 6)

			// And the first progress event says queued.
			st := firstOnSubject(t, e.bus, bus.StreamEvents, bus.SubjectStatus("acme", created.ID))
			var status inframindv1.AssessmentStatusChanged
			require.NoError(t, st.Decode(&status))
			require.Equal(t, "queued", status.GetStatus())
			require.Equal(t, assessment.DeterministicID(created.ID, "queued"), st.ID)

			// GET shows it, with the request as submitted.
			resp = e.do(t, http.MethodGet, "/v1/assessments/"+created.ID, "acme", "", nil, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			view := decodeBody[map[string]any](t, resp)
			require.Equal(t, tc.wantName, view["name"])
			require.Equal(t, tc.wantName, view["request"].(map[string]any)["name"])
		})
	}
}

func TestCreateAssessmentIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	body := readExample(t, "startup-rag.yaml")
	post := func(tenant, key string, b []byte) *http.Response {
		return e.do(t, http.MethodPost, "/v1/assessments", tenant, "application/yaml", bytes.NewReader(b), map[string]string{"Idempotency-Key": key})
	}
	first := post("acme", "order-42", body)
	require.Equal(t, http.StatusAccepted, first.StatusCode)
	a := decodeBody[createdBody](t, first)
	again := post("acme", "order-42", body)
	require.Equal(t, http.StatusAccepted, again.StatusCode)
	b := decodeBody[createdBody](t, again)
	require.Equal(t, a.ID, b.ID)
	require.Equal(t, uint64(1), countOnSubject(t, e.bus, bus.StreamAssessments, bus.SubjectRequested("acme")), "one command despite two POSTs")

	other := post("globex", "order-42", body)
	require.Equal(t, http.StatusAccepted, other.StatusCode)
	require.NotEqual(t, a.ID, decodeBody[createdBody](t, other).ID, "keys are per tenant")

	changed := post("acme", "order-42", bytes.Replace(body, []byte("corpus_gb: 5"), []byte("corpus_gb: 6"), 1))
	require.Equal(t, http.StatusUnprocessableEntity, changed.StatusCode)
	require.Equal(t, ProblemIdempotencyKey, decodeBody[Problem](t, changed).Type)

	bad := post("acme", "has space", body)
	require.Equal(t, http.StatusBadRequest, bad.StatusCode)
	require.Equal(t, "Idempotency-Key", decodeBody[Problem](t, bad).Errors[0].Field)
}

func TestCreateAssessmentRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	valid := string(readExample(t, "startup-rag.yaml"))
	huge := valid + "\n# " + strings.Repeat("x", 2<<20) + "\n"
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		problemType string
		field       string
	}{
		{name: "missing workloads", contentType: "application/json", body: `{"name":"x","business":{"company_size":"startup","regions":["us"]}}`,
			status: 400, problemType: ProblemInvalidRequest, field: "workloads"},
		{name: "negative rate", contentType: "application/yaml", body: strings.Replace(valid, "peak_requests_per_second: 50", "peak_requests_per_second: -50", 1),
			status: 400, problemType: ProblemInvalidRequest, field: "workloads[1].peak_requests_per_second"},
		{name: "bad enum", contentType: "application/yaml", body: strings.Replace(valid, "kind: general", "kind: webapp", 1),
			status: 400, problemType: ProblemInvalidRequest, field: "workloads[1].kind"},
		{name: "unknown field", contentType: "application/json",
			body:   `{"name":"x","business":{"company_size":"startup","regions":["us"]},"workloads":[{"name":"a","kind":"general","peak_requests_per_second":1,"gpu":"h100"}]}`,
			status: 400, problemType: ProblemInvalidRequest, field: "workloads[0].gpu"},
		{name: "bad yaml", contentType: "application/yaml", body: "name: [oops\nbusiness: {",
			status: 400, problemType: ProblemInvalidRequest, field: ""},
		{name: "yaml sent as json", contentType: "application/json", body: valid,
			status: 400, problemType: ProblemInvalidRequest, field: ""},
		{name: "body over 1 MiB", contentType: "application/yaml", body: huge,
			status: 413, problemType: ProblemTooLarge},
		{name: "unsupported content type", contentType: "text/plain", body: valid,
			status: 415, problemType: ProblemUnsupportedType},
		{name: "no content type", contentType: "", body: valid,
			status: 415, problemType: ProblemUnsupportedType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.do(t, http.MethodPost, "/v1/assessments", "acme", tc.contentType, strings.NewReader(tc.body), nil)
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, contentTypeProblem, resp.Header.Get("Content-Type"))
			p := decodeBody[Problem](t, resp)
			require.Equal(t, tc.problemType, p.Type)
			require.Equal(t, tc.status, p.Status)
			require.Equal(t, "/v1/assessments", p.Instance)
			require.NotEmpty(t, p.RequestID)
			if tc.status == 400 {
				require.NotEmpty(t, p.Errors)
				var fields []string
				for _, fe := range p.Errors {
					fields = append(fields, fe.Field)
					require.NotEmpty(t, fe.Reason)
				}
				require.Contains(t, fields, tc.field)
			}
		})
	}
	// A streamed body with no Content-Length is cut at the limit too.
	req, err := http.NewRequest(http.MethodPost, e.http.URL+"/v1/assessments", io.MultiReader(strings.NewReader(huge)))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer "+e.token("acme"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp.Body.Close()
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
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
	e := newEnv(t, Config{KeepAlive: time.Hour})
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
	require.Empty(t, decodeBody[listBody](t, resp).Items)

	resp = e.do(t, http.MethodGet, "/v1/assessments/"+id, "tenant-a", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	resp = e.do(t, http.MethodGet, "/v1/assessments", "tenant-a", "", nil, nil)
	items := decodeBody[listBody](t, resp).Items
	require.Len(t, items, 1)
	require.Equal(t, id, items[0].ID)
	require.Nil(t, items[0].Request, "lists omit the request body")

	resp = e.do(t, http.MethodGet, "/v1/assessments/not-a-uuid..*", "tenant-a", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
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
		page := decodeBody[listBody](t, resp)
		require.LessOrEqual(t, len(page.Items), 2)
		for _, it := range page.Items {
			got = append(got, it.ID)
			require.Equal(t, "queued", it.Status)
			require.Equal(t, "/v1/assessments/"+it.ID, it.Links.Self)
		}
		pages++
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
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
	e := newEnv(t, Config{})
	ctx := context.Background()
	id := e.create(t, "acme", "report me")

	resp := e.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", "acme", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, ProblemReportNotReady, decodeBody[Problem](t, resp).Type)

	_, changed, err := e.store.Assessments.Finish(ctx, "acme", id, "completed", nil, "", time.Now())
	require.NoError(t, err)
	require.True(t, changed)
	require.NoError(t, e.store.Reports.Upsert(ctx, store.Report{
		ID: assessment.DeterministicID("acme", id), TenantID: "acme", AssessmentID: id, Status: "completed",
		Body: `{"assessment_id":"` + id + `","recommendations":[{"rank":1,"provider":"gcp"}]}`, CreatedAt: time.Now(),
	}))

	for _, wantCache := range []string{"miss", "hit"} {
		resp = e.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", "acme", "", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, wantCache, resp.Header.Get("X-Cache"))
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
		body := decodeBody[map[string]any](t, resp)
		require.Equal(t, id, body["assessment_id"])
	}

	// Another tenant never gets the cached copy.
	resp = e.do(t, http.MethodGet, "/v1/assessments/"+id+"/report", "globex", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
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
	seq, ok, err := e.srv.completedSeq(context.Background(), "acme", id)
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
	e := newEnv(t, Config{})
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
	e := newEnv(t, Config{})
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
