package gateway

import (
	"context"
	"time"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/ratelimit"
)

// Stores are the repositories the report, webhook, audit and chat use cases
// read and write. The store's repositories (store.Store's fields of the
// same names) are the real ones; pkg/app/apptest holds fakes of each, and
// pkg/app/adapters' contract suites keep the two in agreement.
type Stores struct {
	Reports         app.ReportStore
	Recommendations app.RecommendationStore
	// Narratives may be nil: reports then say no narrative was requested.
	Narratives app.NarrativeStore
	Webhooks   app.WebhookStore
	Audit      AuditStore
	// Conversations are the consultant's chats; used only when Deps.LLM is set.
	Conversations consultant.Conversations
}

// AuditStore is the audit log: the recorder appends every request's record
// and GET /v1/audit reads a tenant's page of them (*store.AuditLog).
type AuditStore interface {
	app.AuditLog
	audit.Appender
}

// ReportCache keeps finished reports for a while and forgets an erased
// assessment's (adapters.RedisReportCache).
type ReportCache interface {
	app.ReportCache
	app.ErasureCache
}

// LLMBudget counts each tenant's language model use against its budgets,
// shared by every replica (*budget.Ledger on Redis): the chat checks and
// meters its calls through it, and GET /v1/usage/llm reads a tenant's use.
type LLMBudget interface {
	consultant.Budget
	Usage(ctx context.Context, tenant string) (budget.Usage, error)
}

// Limiter spends one request of a sliding-window limit under a key shared
// by every replica (*ratelimit.Limiter on Redis).
type Limiter interface {
	// Spend spends one request of each check in order, stopping at the
	// first that refuses, and returns the results of those it reached.
	Spend(ctx context.Context, checks ...ratelimit.Check) ([]ratelimit.Result, error)
}

// Slots caps the holders of a key (the active assessments of a tenant, the
// open event streams of a credential or a tenant), shared by every replica;
// a holder's slot lapses at its until unless held again (*ratelimit.Slots on
// Redis).
type Slots interface {
	Acquire(ctx context.Context, key, member string, capacity int, until time.Time) (ok bool, held int, err error)
	Hold(ctx context.Context, key, member string, until time.Time, release ...string) error
	Release(ctx context.Context, key string, members ...string) error
	Holders(ctx context.Context, key string) ([]string, error)
}
