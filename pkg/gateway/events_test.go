package gateway

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// The event stream's handler on fakes: it writes each stored event with its
// id and name, answers 204 when there is nothing more, and refuses a bad
// resume position naming the field. What is sent when (replay, follow, the
// wait for the completed event) is the use case's, tested in pkg/app; the
// end-to-end tests on real servers are in gateway_test.go.

func openFakeStream(t *testing.T, f *fakeEnv, path string, hdr map[string]string) (*http.Response, *sseReader) {
	t.Helper()
	resp := f.do(t, http.MethodGet, path, "acme", "", nil, hdr)
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	return resp, readSSE(resp.Body)
}

func TestEventStreamHandler(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	id := uuid.NewString()
	require.NoError(t, f.repo.Create(context.Background(), store.Assessment{ID: id, TenantID: "acme", Status: "running"}))
	queued := f.events.Append("acme", id, app.EventStatus, []byte("{\n  \"status\": \"queued\"\n}"))
	path := "/v1/assessments/" + id + "/events"

	_, s := openFakeStream(t, f, path, nil)
	ev := s.next(t)
	require.Equal(t, sseEvent{ID: fmt.Sprint(queued), Event: "status", Data: `{"status":"queued"}`}, ev,
		"the stored event, its position as the id, its data on one line")
	done := f.events.Append("acme", id, app.EventCompleted, []byte(`{"status":"completed"}`))
	require.Equal(t, sseEvent{ID: fmt.Sprint(done), Event: "completed", Data: `{"status":"completed"}`}, s.next(t))
	select {
	case _, ok := <-s.Events:
		require.False(t, ok, "the stream ends after the completed event")
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end after the completed event")
	}

	// Finished, and the client saw the completed event: 204.
	doneID := uuid.NewString()
	require.NoError(t, f.repo.Create(context.Background(), store.Assessment{ID: doneID, TenantID: "acme", Status: "completed"}))
	finished := f.events.Append("acme", doneID, app.EventCompleted, []byte(`{}`))
	resp, _ := openFakeStream(t, f, "/v1/assessments/"+doneID+"/events", map[string]string{"Last-Event-ID": fmt.Sprint(finished)})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	// Another tenant's assessment is not found.
	resp = f.do(t, http.MethodGet, path, "other", "", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
}

func TestEventStreamRefusesABadResumePosition(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t)
	id := uuid.NewString()
	require.NoError(t, f.repo.Create(context.Background(), store.Assessment{ID: id, TenantID: "acme", Status: "running"}))
	for _, tc := range []struct {
		name, query, field string
		hdr                map[string]string
	}{
		{name: "header not a number", hdr: map[string]string{"Last-Event-ID": "abc"}, field: "Last-Event-ID"},
		{name: "query not a number", query: "?last_event_id=-1", field: "last_event_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, http.MethodGet, "/v1/assessments/"+id+"/events"+tc.query, "acme", "", nil, tc.hdr)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			p := decodeBody[Problem](t, resp)
			require.Equal(t, ProblemInvalidRequest, p.Type)
			require.Len(t, p.Errors, 1)
			require.Equal(t, tc.field, p.Errors[0].Field)
		})
	}
}
