package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// consoleCSRF is a CSRF token the tests put in both the cookie and the form.
const consoleCSRF = "test-csrf-token-test-csrf-token-test-csrf-t"

// consoleCookies is the cookies of a console session of subject with roles.
func consoleCookies(t *testing.T, e *env, tenant, subject string, roles ...string) map[string]string {
	t.Helper()
	tok, err := e.signer.Issue(subject, tenant, roles, time.Hour)
	require.NoError(t, err)
	return map[string]string{"im_access": tok, "im_csrf": consoleCSRF}
}

// auditOf returns tenant's audit records of action, oldest first, once
// there are n of them.
func auditOf(t *testing.T, e *env, tenant, action string, n int) []audit.Record {
	t.Helper()
	var out []audit.Record
	require.Eventually(t, func() bool {
		page, err := e.srv.deps.Store.Audit.List(context.Background(), tenant, store.AuditQuery{Limit: 100, Action: action})
		require.NoError(t, err)
		out = page.Items
		return len(out) >= n
	}, 15*time.Second, 20*time.Millisecond, "%d audit records %s of %s", n, action, tenant)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// sameRecord checks that a console page left the record its API route
// leaves: action, resource, tenant, who and outcome.
func sameRecord(t *testing.T, api, page audit.Record, what string) {
	t.Helper()
	require.Equal(t, api.Action, page.Action, what)
	require.Equal(t, api.Resource.Type, page.Resource.Type, what)
	require.Equal(t, api.Tenant, page.Tenant, what)
	require.Equal(t, api.Actor, page.Actor, what)
	require.Equal(t, api.Roles, page.Roles, what)
	require.Equal(t, api.Outcome, page.Outcome, what)
}

// TestConsoleActionsAskRecordAndErase: the delete page asks first (a form
// that needs no script), is offered to owners and admins only as DELETE
// /v1/assessments/{id} is, erases through the same use case, leaves the
// assessment unreadable on page and API, and every console action (create,
// what-if, re-run, estimate, delete, and a refused delete) is in the audit
// log as the API call it stands for.
func TestConsoleActionsAskRecordAndErase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	const tenant = "acme-console-actions"
	// The same person as e.create's and e.do's API calls.
	owner := consoleCookies(t, e, tenant, "user-"+tenant, auth.RoleOwner)
	apiTok := "Bearer " + e.token(tenant)
	finish := func(id string) {
		_, _, err := e.store.Assessments.Finish(context.Background(), tenant, id, "completed", nil, "", time.Now())
		require.NoError(t, err)
	}

	// Create through the console's YAML form, and the same through the API.
	yaml := string(readExample(t, "startup-rag.yaml"))
	r := consoleGet(t, e, http.MethodPost, "/assessments", owner, url.Values{"csrf": {consoleCSRF}, "mode": {"yaml"}, "yaml": {yaml}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	pageID := strings.TrimPrefix(r.Header.Get("Location"), "/assessments/")
	require.Regexp(t, `^[0-9a-f-]{36}$`, pageID)
	apiID := e.create(t, tenant, "made through the API")
	creates := auditOf(t, e, tenant, "assessment.create", 2)
	require.Equal(t, pageID, creates[0].Resource.ID, "the record names what the page created")
	sameRecord(t, creates[1], creates[0], "create")

	// A what-if and a re-run of the finished base.
	finish(pageID)
	r = consoleGet(t, e, http.MethodPost, "/assessments/"+pageID+"/scenarios", owner,
		url.Values{"csrf": {consoleCSRF}, "name": {"Twice the traffic"}, "traffic_multiplier": {"2"}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	scenarioID := strings.TrimPrefix(r.Header.Get("Location"), "/assessments/")
	rec := auditOf(t, e, tenant, "scenario.create", 1)[0]
	require.Equal(t, audit.Resource{Type: "assessment", ID: scenarioID, Parent: pageID}, rec.Resource)
	require.Equal(t, audit.Success, rec.Outcome)
	r = consoleGet(t, e, http.MethodPost, "/assessments/"+pageID+"/versions", owner, url.Values{"csrf": {consoleCSRF}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	rec = auditOf(t, e, tenant, "version.create", 1)[0]
	require.Equal(t, pageID, rec.Resource.Parent)
	require.Equal(t, "/assessments/"+rec.Resource.ID, r.Header.Get("Location"))

	// The calculator, on the page and on the API.
	r = consoleGet(t, e, http.MethodPost, "/estimates/inference", owner, url.Values{"csrf": {consoleCSRF}, "model": {"llama-3.1-8b"},
		"precision": {"bf16"}, "gpu": {"h100-sxm"}, "input_tokens": {"1000"}, "output_tokens": {"300"}, "concurrency": {"16"}})
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, readAll(t, r), `id="estimate-costs"`)
	resp := e.do(t, http.MethodPost, "/v1/estimates/inference", tenant, "application/json",
		strings.NewReader(`{"model":"llama-3.1-8b","precision":"bf16","gpu":"h100-sxm","input_tokens":1000,"output_tokens":300}`), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	runs := auditOf(t, e, tenant, "estimate.run", 2)
	require.Equal(t, audit.Resource{Type: "estimate", ID: "inference"}, runs[0].Resource)
	require.Equal(t, runs[1].Resource, runs[0].Resource)

	// Deleting: a viewer is not offered it, the page asks first, a post
	// without the form's token is refused (and recorded), and the confirmed
	// post erases the base with its what-if and version.
	viewer := consoleCookies(t, e, tenant, "user-viewer", auth.RoleViewer)
	r = consoleGet(t, e, http.MethodGet, "/assessments/"+pageID+"/delete", viewer, nil)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	for _, id := range []string{scenarioID, rec.Resource.ID} {
		finish(id)
	}
	r = consoleGet(t, e, http.MethodGet, "/assessments/"+pageID+"/delete", owner, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	page := readAll(t, r)
	require.Contains(t, page, `<form method="post" action="/assessments/`+pageID+`/delete"`)
	require.Contains(t, page, "Delete permanently")
	require.Contains(t, page, "cannot be undone")
	r = consoleGet(t, e, http.MethodPost, "/assessments/"+pageID+"/delete", owner, url.Values{})
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	require.Equal(t, http.StatusOK, e.call(t, http.MethodGet, "/v1/assessments/"+pageID, apiTok).StatusCode, "a refused post erases nothing")
	r = consoleGet(t, e, http.MethodPost, "/assessments/"+pageID+"/delete", owner, url.Values{"csrf": {consoleCSRF}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	require.Equal(t, "/assessments?deleted="+pageID, r.Header.Get("Location"))
	for _, id := range []string{pageID, scenarioID, rec.Resource.ID} {
		r = consoleGet(t, e, http.MethodGet, "/assessments/"+id, owner, nil)
		require.Equal(t, http.StatusNotFound, r.StatusCode, id)
		require.Equal(t, http.StatusNotFound, e.call(t, http.MethodGet, "/v1/assessments/"+id, apiTok).StatusCode, id)
	}
	r = consoleGet(t, e, http.MethodGet, "/assessments?deleted="+pageID, owner, nil)
	require.Contains(t, readAll(t, r), pageID+"</code> was deleted")

	// The API's delete of the other one, for comparison.
	finish(apiID)
	require.Equal(t, http.StatusNoContent, e.call(t, http.MethodDelete, "/v1/assessments/"+apiID, apiTok).StatusCode)
	deletes := auditOf(t, e, tenant, "assessment.delete", 3)
	require.Equal(t, audit.Denied, deletes[0].Outcome, "the refused post is recorded")
	require.Equal(t, http.StatusForbidden, deletes[0].Status)
	require.Equal(t, pageID, deletes[1].Resource.ID)
	require.Equal(t, apiID, deletes[2].Resource.ID)
	sameRecord(t, deletes[2], deletes[1], "delete")
	// The question page only shows a form: no record of it.
	require.Len(t, deletes, 3)
}

// TestConsoleStatusFilterPagesByKeyset: filtering the list by status shows
// at most a page of matches at a time and, following the next links,
// every match exactly once, newest first, even when matches are dense on
// some pages of the underlying list and sparse on others.
func TestConsoleStatusFilterPagesByKeyset(t *testing.T) {
	t.Parallel()
	t.Run("document store", func(t *testing.T) {
		t.Parallel()
		testConsoleStatusFilter(t, newEnv(t, Config{}))
	})
	t.Run("read model", func(t *testing.T) {
		t.Parallel()
		testConsoleStatusFilter(t, newReadModelEnv(t))
	})
}

// newReadModelEnv is a gateway whose store reads through the read model,
// as the gateway role runs it.
func newReadModelEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	devstackStart.Lock()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	devstackStart.Unlock()
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "gateway-read-model-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	e := newEnvAt(t, Config{}, stack.NATSURL, stack.MongoURI, stack.RedisURL)
	// The store the gateway reads through, made to keep and read the read model.
	_, err = readmodel.Use(ctx, b.JS, e.store, nil)
	require.NoError(t, err)
	return e
}

func testConsoleStatusFilter(t *testing.T, e *env) {
	const tenant = "acme-console-filter"
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var want []string
	// Newest first: 30 failed of the first 40, then 25 completed, then
	// 7 failed among 40 completed.
	n := 0
	add := func(status string) {
		n++
		id := uuid.NewString()
		name := fmt.Sprintf("a%03d", n)
		require.NoError(t, e.store.Assessments.Create(ctx, store.Assessment{ID: id, TenantID: tenant, Name: name, Status: status,
			CreatedAt: start.Add(-time.Duration(n) * time.Second)}))
		if status == "failed" {
			want = append(want, name)
		}
	}
	for i := range 40 {
		add(map[bool]string{true: "failed", false: "completed"}[i%4 != 3])
	}
	for range 25 {
		add("completed")
	}
	for i := range 40 {
		add(map[bool]string{true: "failed", false: "completed"}[i%6 == 0])
	}
	owner := consoleCookies(t, e, tenant, "user-owner", auth.RoleOwner)
	nameRE := regexp.MustCompile(`>(a\d{3})</a>`)
	nextRE := regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	var got []string
	next := "/assessments?status=failed"
	for pages := 0; next != ""; pages++ {
		require.Less(t, pages, 10, "the pages end")
		r := consoleGet(t, e, http.MethodGet, next, owner, nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
		body := readAll(t, r)
		names := nameRE.FindAllStringSubmatch(body, -1)
		require.LessOrEqual(t, len(names), 20, "a page holds at most 20")
		for _, m := range names {
			got = append(got, m[1])
		}
		next = ""
		if m := nextRE.FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	require.Equal(t, want, got)
}

// TestConsoleLookFurtherOnTheReadModel: a status with no match among the
// newest 500 assessments shows an empty page that says how far it looked
// and links to look further, which finds the older match; paging the read
// model's list from the cursor skips nothing.
func TestConsoleLookFurtherOnTheReadModel(t *testing.T) {
	t.Parallel()
	e := newReadModelEnv(t)
	const tenant = "acme-look-further"
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 520 {
		status := "completed"
		if i == 510 {
			status = "failed"
		}
		require.NoError(t, e.store.Assessments.Create(ctx, store.Assessment{ID: uuid.NewString(), TenantID: tenant,
			Name: fmt.Sprintf("a%03d", i), Status: status, CreatedAt: start.Add(-time.Duration(i) * time.Second)}))
	}
	owner := consoleCookies(t, e, tenant, "user-owner", auth.RoleOwner)
	r := consoleGet(t, e, http.MethodGet, "/assessments?status=failed", owner, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	body := readAll(t, r)
	require.Contains(t, body, "Looked through 500 assessments")
	require.NotContains(t, body, ">a510</a>")
	m := regexp.MustCompile(`<a href="([^"]+)" rel="next">Look further</a>`).FindStringSubmatch(body)
	require.NotNil(t, m, body)
	r = consoleGet(t, e, http.MethodGet, strings.ReplaceAll(m[1], "&amp;", "&"), owner, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	body = readAll(t, r)
	require.Contains(t, body, ">a510</a>")
	require.NotContains(t, body, `rel="next"`, "nothing older is left")
}

// TestConsoleChatStreamsAndKeepsHistory: with a provider configured, the
// report page links to the chat, a conversation starts from a form, a
// question sent by the page's script streams its answer as events, a plain
// form post waits for the answer and shows the conversation, and both are
// in the history; without a provider the chat pages say the chat is off.
func TestConsoleChatStreamsAndKeepsHistory(t *testing.T) {
	t.Parallel()
	e, fake := newChatEnv(t, Config{})
	const tenant = "acme"
	id := e.completedWithReport(t, tenant)
	_, _, err := e.store.Assessments.Finish(context.Background(), tenant, id, "completed", nil, "", time.Now())
	require.NoError(t, err)
	fake.Respond(func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Text: "It costs $12,345.67 a month on demand."}
	})
	ann := consoleCookies(t, e, tenant, "ann", auth.RoleViewer)

	r := consoleGet(t, e, http.MethodGet, "/assessments/"+id+"/report", ann, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	report := readAll(t, r)
	require.Contains(t, report, `href="/assessments/`+id+`/chat"`)
	require.NotContains(t, report, `/delete"`, "a viewer is not offered the delete")
	r = consoleGet(t, e, http.MethodPost, "/assessments/"+id+"/chat", ann, url.Values{"csrf": {consoleCSRF}, "title": {"Costs"}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	convURL := r.Header.Get("Location")
	require.Regexp(t, `^/assessments/`+id+`/chat/[0-9a-f-]{36}$`, convURL)

	// The script's way: the answer as events.
	req, err := http.NewRequest(http.MethodPost, e.http.URL+convURL+"/messages",
		strings.NewReader(url.Values{"csrf": {consoleCSRF}, "content": {"What does it cost?"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range ann {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	var names, text []string
	for ev := range readSSE(resp.Body).Events {
		names = append(names, ev.Event)
		if ev.Event == "token" || ev.Event == "message" {
			text = append(text, ev.Data)
		}
	}
	resp.Body.Close()
	require.Equal(t, []string{"token", "message"}, names)
	require.Contains(t, text[1], "$12,345.67")

	// Without script: post, wait, see the conversation.
	r = consoleGet(t, e, http.MethodPost, convURL+"/messages", ann, url.Values{"csrf": {consoleCSRF}, "content": {"And per year?"}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, readAll(t, r))
	r = consoleGet(t, e, http.MethodGet, convURL, ann, nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	page := readAll(t, r)
	require.Equal(t, 2, strings.Count(page, `class="msg msg-user"`))
	require.Equal(t, 2, strings.Count(page, `class="msg msg-assistant"`))
	require.Contains(t, page, "And per year?")

	// An empty question is named beside the box; without script too.
	r = consoleGet(t, e, http.MethodPost, convURL+"/messages", ann, url.Values{"csrf": {consoleCSRF}, "content": {"  "}})
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	require.Contains(t, readAll(t, r), `id="e-f-content"`)

	// The list, and another user who sees none of it.
	r = consoleGet(t, e, http.MethodGet, "/assessments/"+id+"/chat", ann, nil)
	require.Contains(t, readAll(t, r), `href="`+convURL+`">Costs</a>`)
	bob := consoleCookies(t, e, tenant, "bob", auth.RoleOwner)
	r = consoleGet(t, e, http.MethodGet, convURL, bob, nil)
	require.Equal(t, http.StatusNotFound, r.StatusCode)

	// Each message is recorded as the chat route it stands for. Records are
	// written after the answer, so wait for all three, not only the first.
	var sends []audit.Record
	found := 0
	require.Eventually(t, func() bool {
		sends = auditOf(t, e, tenant, "request", 1)
		found = 0
		for _, rec := range sends {
			if rec.Resource.ID == "POST /v1/assessments/:id/conversations/:cid/messages" && rec.Actor == "ann" {
				found++
			}
		}
		return found >= 3
	}, 15*time.Second, 20*time.Millisecond, "three message records")
	require.Equal(t, 3, found, "%v", sends)

	off := newEnv(t, Config{})
	offID := off.create(t, tenant, "no chat here")
	r = consoleGet(t, off, http.MethodGet, "/assessments/"+offID+"/chat", consoleCookies(t, off, tenant, "ann", auth.RoleViewer), nil)
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	require.Contains(t, readAll(t, r), "Chat is off")
}
