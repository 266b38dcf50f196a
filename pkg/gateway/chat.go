package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/scenario"
	"github.com/infra-mind/infra-mind/pkg/sse"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// ProblemChatOff is the problem type of the chat routes on a deployment
// without a language model provider.
const ProblemChatOff = problemBase + "chat-off"

// chatToolRoutes binds each chat tool to the route whose access it needs:
// a tool is offered to a caller the route x role matrix lets call that route.
var chatToolRoutes = map[string][2]string{
	consultant.ToolReadReport:        {http.MethodGet, "/v1/assessments/:id/report"},
	consultant.ToolEstimateInference: {http.MethodPost, "/v1/estimates/inference"},
	consultant.ToolEstimateTraining:  {http.MethodPost, "/v1/estimates/training"},
	consultant.ToolRunScenario:       {http.MethodPost, "/v1/assessments/:id/scenarios"},
}

// newChat builds the chat use cases on the gateway's store, estimate engine
// and scenario use cases.
func (s *Server) newChat(cfg consultant.ChatConfig, d Deps) (*consultant.Chat, error) {
	m, err := consultant.NewChatMetrics(d.Registry)
	if err != nil {
		return nil, fmt.Errorf("gateway: chat metrics: %w", err)
	}
	chat, err := consultant.NewChat(consultant.ChatDeps{
		LLM: d.LLM, Conversations: d.Store.Conversations, Assessments: d.Assessments, Reports: d.Store.Reports,
		Estimates: chatEstimates{est: s.est}, WhatIfs: chatWhatIfs{s: s}, Secrets: d.LLMSecrets, Budget: d.LLMBudget, Metrics: m, Logger: s.log,
	}, cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return chat, nil
}

// chatCaller is who chats: tenant, user and the tools their roles allow.
func chatCaller(c echo.Context) consultant.Caller {
	cl, _ := c.Get(claimsKey).(*auth.Claims)
	return chatCallerOf(cl, requestID(c))
}

// chatCallerOf is the chat's caller for verified claims (nil: nobody).
func chatCallerOf(cl *auth.Claims, correlationID string) consultant.Caller {
	who := consultant.Caller{CorrelationID: correlationID}
	if cl == nil {
		return who
	}
	who.Tenant = cl.Tenant
	who.User = cl.Subject
	for _, tool := range consultant.Tools() {
		r := chatToolRoutes[tool]
		if a, ok := RouteRoles(r[0], r[1]); ok && a.Allows(cl) {
			who.Tools = append(who.Tools, tool)
		}
	}
	return who
}

// chatOff is the answer of every chat route when no provider is configured.
func chatOff() *Problem {
	return problem(http.StatusServiceUnavailable, ProblemChatOff, "Chat is off",
		"This deployment has no language model provider configured (IM_LLM_PROVIDER_0_KIND), so the consultant's chat is off; "+
			"reports and their figures are unaffected.")
}

// chatOn refuses a chat request when the chat is off. Handlers call it
// after reading their input, so a malformed request is still named as such.
func (s *Server) chatOn() error {
	if s.chat == nil {
		return chatOff()
	}
	return nil
}

func conversationID(c echo.Context) (string, error) {
	cid := c.Param("cid")
	if !validID(cid) {
		return "", notFound("No such conversation.")
	}
	return cid, nil
}

// readJSONBody checks the content type and decodes a JSON object into v,
// refusing unknown fields by name. An empty body is allowed when optional.
func readJSONBody(c echo.Context, v any, optional bool) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "The request body could not be read.")
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, ProblemUnsupportedType, "Unsupported media type",
			"Set Content-Type to application/json.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return invalidField(strings.Trim(name, `"`), "is not a field of this request")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalidField(te.Field, "has the wrong type")
		}
		return invalidField("body", "must be a JSON object")
	}
	return nil
}

func conversationView(conv store.Conversation, withMessages bool) api.Conversation {
	v := api.Conversation{ID: conv.ConversationID, AssessmentID: conv.AssessmentID, Title: conv.Title, Turns: conv.Turns,
		CreatedAt: conv.CreatedAt, UpdatedAt: conv.UpdatedAt}
	if withMessages {
		msgs := make([]api.ChatMessage, 0, len(conv.Messages))
		for _, m := range conv.Messages {
			msgs = append(msgs, chatMessageView(m))
		}
		v.Messages = &msgs
	}
	return v
}

func chatMessageView(m store.ChatMessage) api.ChatMessage {
	v := api.ChatMessage{Role: api.ChatMessageRole(m.Role), Content: m.Content, CreatedAt: m.CreatedAt}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	v.Note, v.Provider, v.Model = opt(m.Note), opt(m.Provider), opt(m.Model)
	if m.Generated {
		g := true
		v.Generated = &g
	}
	if len(m.Tools) > 0 {
		tools := make([]api.ChatToolUse, 0, len(m.Tools))
		for _, u := range m.Tools {
			tools = append(tools, api.ChatToolUse{Name: api.ChatToolUseName(u.Name), Arguments: u.Arguments, Result: opt(u.Result), Error: opt(u.Error)})
		}
		v.Tools = &tools
	}
	return v
}

// createConversation handles POST /v1/assessments/{id}/conversations.
func (s *Server) createConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var body api.ConversationRequest
	if err := readJSONBody(c, &body, true); err != nil {
		return err
	}
	if err := s.chatOn(); err != nil {
		return err
	}
	title := ""
	if body.Title != nil {
		title = *body.Title
	}
	conv, err := s.chat.Start(c.Request().Context(), chatCaller(c), id, title)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, assessmentURL(id)+"/conversations/"+conv.ConversationID)
	return c.JSON(http.StatusCreated, conversationView(conv, true))
}

// listConversations handles GET /v1/assessments/{id}/conversations.
func (s *Server) listConversations(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.chatOn(); err != nil {
		return err
	}
	convs, err := s.chat.List(c.Request().Context(), chatCaller(c), id)
	if err != nil {
		return err
	}
	out := api.ConversationList{Items: make([]api.Conversation, 0, len(convs))}
	for _, conv := range convs {
		out.Items = append(out.Items, conversationView(conv, false))
	}
	return c.JSON(http.StatusOK, out)
}

// getConversation handles GET /v1/assessments/{id}/conversations/{cid}.
func (s *Server) getConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cid, err := conversationID(c)
	if err != nil {
		return err
	}
	if err := s.chatOn(); err != nil {
		return err
	}
	conv, err := s.chat.Get(c.Request().Context(), chatCaller(c), id, cid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, conversationView(conv, true))
}

// sendChatMessage handles POST /v1/assessments/{id}/conversations/{cid}/messages:
// the message is checked (problem JSON on refusal), then the answer streams
// as Server-Sent Events.
func (s *Server) sendChatMessage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cid, err := conversationID(c)
	if err != nil {
		return err
	}
	var body api.ChatMessageRequest
	if err := readJSONBody(c, &body, false); err != nil {
		return err
	}
	if err := s.chatOn(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel) // server shutdown ends the answer
	defer stop()
	turn, err := s.chat.Begin(ctx, chatCaller(c), id, cid, body.Content)
	if err != nil {
		return err
	}
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Flush()
	sink := sseSink{w: w}
	msg, err := turn.Run(ctx, sink)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		p := toProblem(err)
		p.RequestID = requestID(c)
		s.log.ErrorContext(ctx, "chat answer failed", slog.String("error", err.Error()), slog.String("request_id", requestID(c)))
		_ = sink.event("error", p)
		return nil
	}
	_ = sink.event("message", chatMessageView(msg))
	return nil
}

// sseSink writes an answer's parts as Server-Sent Events.
type sseSink struct{ w *echo.Response }

func (s sseSink) event(name string, v any) error { return sse.JSON(s.w, name, v) }

func (s sseSink) Text(text string) error { return s.event("token", api.ChatTokenEvent{Text: text}) }

func (s sseSink) Tool(name string, done bool, failure string) error {
	ev := api.ChatToolEvent{Name: name, Status: "started"}
	switch {
	case done && failure != "":
		ev.Status, ev.Error = "failed", &failure
	case done:
		ev.Status = "done"
	}
	return s.event("tool", ev)
}

func (s sseSink) Retract(reason string) error {
	return s.event("retract", api.ChatRetractEvent{Reason: reason})
}

// chatEstimates runs the estimate engine for the chat, with the estimate
// routes' validation.
type chatEstimates struct{ est *estimator }

func (e chatEstimates) Estimate(_ context.Context, kind string, body []byte) (any, error) {
	var err error
	var out any
	switch kind {
	case "inference":
		var req api.InferenceEstimateRequest
		if req, err = decodeEstimate(body, e.est.inference, inferenceErrors); err == nil {
			out, err = e.est.inferenceOf(req)
		}
	case "training":
		var req api.TrainingEstimateRequest
		if req, err = decodeEstimate(body, e.est.training, trainingErrors); err == nil {
			out, err = e.est.trainingOf(req)
		}
	default:
		return nil, fmt.Errorf("no estimate %q", kind)
	}
	var p *Problem
	if errors.As(err, &p) {
		return nil, fieldProblemError(p)
	}
	return out, err
}

// fieldProblemError turns a 400 problem into an error naming its fields.
func fieldProblemError(p *Problem) error {
	parts := make([]string, 0, len(p.Errors))
	for _, fe := range p.Errors {
		parts = append(parts, strings.TrimPrefix(fe.Field+": "+fe.Reason, ": "))
	}
	if len(parts) == 0 {
		return errors.New(p.Detail)
	}
	return errors.New(p.Title + ": " + strings.Join(parts, "; "))
}

// chatWhatIfs runs the chat's what-ifs through the scenario use cases,
// under the tenant's cap of active assessments like POST .../scenarios.
type chatWhatIfs struct{ s *Server }

func (w chatWhatIfs) Start(ctx context.Context, who consultant.Caller, baseID, name string, overrides []byte) (string, error) {
	base, err := w.s.app.Base(ctx, who.Tenant, baseID)
	if err != nil {
		var nb *app.NotBaseError
		if errors.As(err, &nb) {
			return "", fmt.Errorf("this assessment is a %s of %s; what-ifs are run from the base assessment", nb.Kind, nb.ParentID)
		}
		return "", err
	}
	o, err := scenario.Parse(overrides)
	if err != nil {
		return "", err
	}
	return w.s.withActiveSlot(ctx, who.Tenant, func() (string, error) {
		child, err := w.s.app.CreateScenario(ctx, app.Caller{Tenant: who.Tenant, CorrelationID: who.CorrelationID}, base,
			app.Scenario{Name: name, Overrides: o})
		return child.ID, err
	})
}

func (w chatWhatIfs) Diff(ctx context.Context, tenant, baseID, sid string) (report.ReportDiff, bool, error) {
	base, sc, err := w.s.app.Scenario(ctx, tenant, baseID, sid)
	if err != nil {
		return report.ReportDiff{}, false, err
	}
	d, err := w.s.reports.Diff(ctx, base, sc)
	var nc *app.NotComparableError
	if errors.As(err, &nc) {
		return report.ReportDiff{}, false, nil
	}
	if err != nil {
		return report.ReportDiff{}, false, err
	}
	return d, true, nil
}

// withActiveSlot runs start (which creates an assessment and returns its id)
// under the tenant's cap of active assessments, as capActive does for the
// create routes; a Redis failure lets it through (fail open, as there).
func (s *Server) withActiveSlot(ctx context.Context, tenant string, start func() (string, error)) (string, error) {
	p := s.prot
	if p == nil {
		return start()
	}
	key := cache.Key(tenant, "active")
	until := time.Now().Add(s.cfg.AssessmentTimeout + activeGrace)
	reservation := reservationPrefix + "chat-" + uuid.NewString()
	ok, held, err := s.reserveActive(ctx, tenant, key, reservation, until)
	if err != nil {
		s.log.WarnContext(ctx, "active assessment cap unavailable, what-if allowed", slog.String("error", err.Error()))
		return start()
	}
	if !ok {
		p.decisions.WithLabelValues("active", "refused").Inc()
		return "", fmt.Errorf("your organisation has %d assessments queued or running and the limit is %d; retry when one has finished",
			held, p.limits.MaxActiveAssessments)
	}
	p.decisions.WithLabelValues("active", "allowed").Inc()
	id, err := start()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err != nil {
		s.handOver(cctx, key, reservation, "", until)
	} else {
		s.handOver(cctx, key, reservation, id, until)
	}
	return id, err
}
