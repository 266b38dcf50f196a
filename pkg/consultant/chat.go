package consultant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// Conversations stores users' chats (store.Conversations is the real one):
// a read by another tenant or another user is store.ErrNotFound.
type Conversations interface {
	Create(ctx context.Context, c store.Conversation) error
	Get(ctx context.Context, tenant, user, id string) (store.Conversation, error)
	List(ctx context.Context, tenant, user, assessmentID string) ([]store.Conversation, error)
	Append(ctx context.Context, tenant, id string, msgs ...store.ChatMessage) error
}

// AssessmentReader reads one of a tenant's assessments (store.Assessments).
type AssessmentReader interface {
	Get(ctx context.Context, tenant, id string) (store.Assessment, error)
}

// Estimator runs the estimate engine on a request body as the estimate
// routes take it (kind "inference" or "training"); a body the routes would
// refuse is an error whose text names the fields.
type Estimator interface {
	Estimate(ctx context.Context, kind string, body []byte) (any, error)
}

// WhatIfs runs a what-if scenario of a base assessment through the
// pipeline (Start) and compares its report with the base's once it is
// written (Diff reports ready false until then).
type WhatIfs interface {
	Start(ctx context.Context, c Caller, baseID, name string, overrides []byte) (scenarioID string, err error)
	Diff(ctx context.Context, tenant, baseID, scenarioID string) (d report.ReportDiff, ready bool, err error)
}

// Caller is who chats: every read and tool call is scoped to Tenant, every
// conversation belongs to User, and Tools are the tools the caller's role
// may use (the gateway derives them from its route x role matrix).
type Caller struct {
	Tenant        string
	User          string
	CorrelationID string
	Tools         []string
}

func (c Caller) may(tool string) bool {
	for _, t := range c.Tools {
		if t == tool {
			return true
		}
	}
	return false
}

// Errors of the chat use cases.
var (
	// ErrNoConversation is a conversation that does not exist, is another
	// user's or tenant's, or is about another assessment.
	ErrNoConversation = errors.New("consultant: no such conversation")
	// ErrConversationFull is a conversation that holds ChatConfig.MaxMessages.
	ErrConversationFull = errors.New("consultant: the conversation is full")
)

// FieldError is an input the chat refuses, naming the field as the API
// spells it and why.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return "consultant: " + e.Field + ": " + e.Reason }

// ReportNotReadyError is a message about an assessment whose report is not
// written yet (Status is the assessment's).
type ReportNotReadyError struct {
	ID, Status string
}

func (e *ReportNotReadyError) Error() string {
	return fmt.Sprintf("consultant: the report of %s is not written yet (status %s)", e.ID, e.Status)
}

// Defaults of ChatConfig.
const (
	DefaultChatMaxTokens      = 600
	DefaultChatMaxChars       = 3000
	DefaultChatToolRounds     = 4
	DefaultChatToolCalls      = 4
	DefaultChatToolResult     = 6000
	DefaultChatContentChars   = 4000
	DefaultChatMaxMessages    = 200
	DefaultChatHistory        = 12
	DefaultChatScenarioWait   = 3 * time.Minute
	DefaultChatScenarioPoll   = time.Second
	DefaultChatTitleChars     = 80
	DefaultChatEarlierResults = 6
)

// ChatConfig caps what a chat may cost and say.
type ChatConfig struct {
	// MaxTokens caps each completion at the provider; MaxChars the answer.
	MaxTokens int
	MaxChars  int
	// MaxToolRounds bounds the rounds of tool calls of one answer and
	// MaxToolCalls the calls of one round; MaxToolResult cuts each result.
	MaxToolRounds int
	MaxToolCalls  int
	MaxToolResult int
	// MaxContentChars bounds a user's message; MaxMessages a conversation.
	MaxContentChars int
	MaxMessages     int
	// History is how many earlier messages are sent with a new one.
	History int
	// ScenarioWait bounds how long a what-if waits for its report, polled
	// every ScenarioPoll.
	ScenarioWait time.Duration
	ScenarioPoll time.Duration
}

func (c ChatConfig) withDefaults() ChatConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxTokens, DefaultChatMaxTokens)
	def(&c.MaxChars, DefaultChatMaxChars)
	def(&c.MaxToolRounds, DefaultChatToolRounds)
	def(&c.MaxToolCalls, DefaultChatToolCalls)
	def(&c.MaxToolResult, DefaultChatToolResult)
	def(&c.MaxContentChars, DefaultChatContentChars)
	def(&c.MaxMessages, DefaultChatMaxMessages)
	def(&c.History, DefaultChatHistory)
	if c.ScenarioWait <= 0 {
		c.ScenarioWait = DefaultChatScenarioWait
	}
	if c.ScenarioPoll <= 0 {
		c.ScenarioPoll = DefaultChatScenarioPoll
	}
	return c
}

// ChatDeps are the chat's collaborators. Estimates and WhatIfs may be nil
// (their tools are then not offered); Secrets, when set, returns the values
// an answer must never contain (the providers' API keys); Metrics and
// Logger may be nil.
type ChatDeps struct {
	LLM           llm.Completer
	Conversations Conversations
	Assessments   AssessmentReader
	Reports       Reports
	Estimates     Estimator
	WhatIfs       WhatIfs
	Secrets       func() []string
	// Budget, when set, meters every call against the tenant's budgets: a
	// message is refused before its answer starts when the tenant has no
	// room for one call, and a call refused later gives the deterministic
	// answer with a note.
	Budget  Budget
	Metrics *ChatMetrics
	Logger  *slog.Logger
}

// Chat runs the chat use cases: start a conversation about an assessment,
// list and read one's conversations, and answer a message with the
// assessment's report and the tools the caller may use, every number of the
// answer checked before it is sent.
type Chat struct {
	d      ChatDeps
	cfg    ChatConfig
	canary string
	now    func() time.Time
	newID  func() string
	log    *slog.Logger
}

// NewChat builds the chat use cases.
func NewChat(d ChatDeps, cfg ChatConfig) (*Chat, error) {
	if d.LLM == nil || d.Conversations == nil || d.Assessments == nil || d.Reports == nil {
		return nil, errors.New("consultant: chat needs a language model, conversations, assessments and reports")
	}
	if d.Secrets == nil {
		d.Secrets = func() []string { return nil }
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("consultant: canary: %w", err)
	}
	return &Chat{d: d, cfg: cfg.withDefaults(), canary: "guard-" + hex.EncodeToString(b), now: time.Now,
		newID: func() string { return uuid.Must(uuid.NewV7()).String() }, log: d.Logger}, nil
}

// Start opens a conversation of the caller about one of their tenant's
// assessments; title (optional, cut to 80 characters) names it.
func (c *Chat) Start(ctx context.Context, who Caller, assessmentID, title string) (store.Conversation, error) {
	if _, err := c.d.Assessments.Get(ctx, who.Tenant, assessmentID); err != nil {
		return store.Conversation{}, fmt.Errorf("get assessment %s: %w", assessmentID, err)
	}
	title = strings.TrimSpace(title)
	if !utf8.ValidString(title) {
		return store.Conversation{}, &FieldError{Field: "title", Reason: "must be UTF-8 text"}
	}
	if utf8.RuneCountInString(title) > DefaultChatTitleChars {
		return store.Conversation{}, &FieldError{Field: "title", Reason: fmt.Sprintf("must be at most %d characters", DefaultChatTitleChars)}
	}
	conv := store.Conversation{ConversationID: c.newID(), TenantID: who.Tenant, AssessmentID: assessmentID, UserID: who.User,
		Title: title, CreatedAt: c.now().UTC().Truncate(time.Millisecond)}
	if err := c.d.Conversations.Create(ctx, conv); err != nil {
		return store.Conversation{}, fmt.Errorf("create conversation: %w", err)
	}
	conv.UpdatedAt = conv.CreatedAt
	conv.Messages = []store.ChatMessage{}
	return conv, nil
}

// List returns the caller's conversations about an assessment, newest first.
func (c *Chat) List(ctx context.Context, who Caller, assessmentID string) ([]store.Conversation, error) {
	if _, err := c.d.Assessments.Get(ctx, who.Tenant, assessmentID); err != nil {
		return nil, fmt.Errorf("get assessment %s: %w", assessmentID, err)
	}
	out, err := c.d.Conversations.List(ctx, who.Tenant, who.User, assessmentID)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return out, nil
}

// Get returns one of the caller's conversations about an assessment with
// its messages.
func (c *Chat) Get(ctx context.Context, who Caller, assessmentID, id string) (store.Conversation, error) {
	conv, err := c.d.Conversations.Get(ctx, who.Tenant, who.User, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && conv.AssessmentID != assessmentID) {
		return store.Conversation{}, ErrNoConversation
	}
	if err != nil {
		return store.Conversation{}, fmt.Errorf("get conversation %s: %w", id, err)
	}
	return conv, nil
}

// Turn is a message accepted for an answer: everything that can refuse it
// (a missing conversation, an unfinished report, a bad message) has been
// checked, so the caller can start streaming before Run.
type Turn struct {
	chat    *Chat
	who     Caller
	conv    store.Conversation
	doc     report.Document
	content string
	// llm is the model, metered against the tenant's budgets when they are.
	llm llm.Completer
}

// Begin checks a new message of the caller in a conversation and loads
// what its answer is written from.
func (c *Chat) Begin(ctx context.Context, who Caller, assessmentID, id, content string) (*Turn, error) {
	content = strings.TrimSpace(content)
	switch {
	case content == "":
		return nil, &FieldError{Field: "content", Reason: "is required: write a question about the assessment"}
	case !utf8.ValidString(content):
		return nil, &FieldError{Field: "content", Reason: "must be UTF-8 text"}
	case utf8.RuneCountInString(content) > c.cfg.MaxContentChars:
		return nil, &FieldError{Field: "content", Reason: fmt.Sprintf("must be at most %d characters", c.cfg.MaxContentChars)}
	}
	conv, err := c.Get(ctx, who, assessmentID, id)
	if err != nil {
		return nil, err
	}
	if conv.Turns+2 > c.cfg.MaxMessages {
		return nil, ErrConversationFull
	}
	a, err := c.d.Assessments.Get(ctx, who.Tenant, assessmentID)
	if err != nil {
		return nil, fmt.Errorf("get assessment %s: %w", assessmentID, err)
	}
	rep, err := c.d.Reports.Get(ctx, who.Tenant, assessmentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &ReportNotReadyError{ID: assessmentID, Status: a.Status}
	}
	if err != nil {
		return nil, fmt.Errorf("read report of %s: %w", assessmentID, err)
	}
	doc, err := report.Decode([]byte(rep.Body))
	if err != nil {
		return nil, fmt.Errorf("decode report of %s: %w", assessmentID, err)
	}
	model := c.d.LLM
	if c.d.Budget != nil {
		// Room for the question and one capped completion, at least.
		est := budget.EstimateOf(llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: content}}, MaxTokens: c.cfg.MaxTokens})
		if err := c.d.Budget.Check(ctx, who.Tenant, est); err != nil {
			return nil, err
		}
		model = c.d.Budget.Meter(who.Tenant, model)
	}
	return &Turn{chat: c, who: who, conv: conv, doc: doc, content: content, llm: model}, nil
}

// Sink receives an answer as it is written.
type Sink interface {
	// Text is checked text of the answer, in order.
	Text(s string) error
	// Tool says a tool call started (done false) or finished (done true,
	// with its error text when it failed).
	Tool(name string, done bool, failure string) error
	// Retract withdraws the text sent so far: it failed the check (reason
	// says why) and another answer follows.
	Retract(reason string) error
}
