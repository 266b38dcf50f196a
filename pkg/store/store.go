// Package store keeps tenants, assessments, agent results and reports in a
// MongoDB-protocol database (MongoDB or FerretDB v1). Every document carries
// its tenant id and every query filters by it; repositories take the tenant as
// an argument. Updates are single-document and atomic; ids are deterministic.
//
// Only features that both MongoDB and FerretDB v1.24 support are used: CRUD,
// upserts, findOneAndUpdate and unique/compound indexes. There are no
// transactions, $lookup, change streams or TTL indexes; expiry (deadlines) is
// done by the application.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrNotFound is returned when no document matches (including another tenant's id).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a document with the same id already exists.
var ErrConflict = errors.New("already exists")

// ErrInvalid is wrapped by errors for arguments a repository refuses (an
// empty tenant or id, an unknown family, a non-terminal finish status).
var ErrInvalid = errors.New("invalid argument")

// ErrBadCursor is returned by List when the cursor was not produced by List.
var ErrBadCursor = errors.New("bad cursor")

// Collection names.
const (
	CollTenants = "tenants"
	// CollTenantNames holds one claim per tenant id's look-alike key (TenantNameKey).
	CollTenantNames = "tenant_names"
	CollAssessments = "assessments"
	CollResults     = "agent_results"
	CollReports     = "reports"
	// CollFinishes holds one claim per finished assessment; see Assessments.Finish.
	CollFinishes = "assessment_finishes"
	// CollAnnouncements holds one claim per announced assessment; see Assessments.ClaimAnnouncement.
	CollAnnouncements = "assessment_announcements"
	// CollWebhooks holds tenants' webhook subscriptions; CollDeliveries their delivery log.
	CollWebhooks   = "webhooks"
	CollDeliveries = "webhook_deliveries"
	// CollRecommendations holds one document per assessment with its whole ranked list.
	CollRecommendations = "recommendations"
	// CollUsers holds tenants' users; CollSessions their sign-in sessions
	// (refresh-token families); CollRefreshTokens each issued refresh token
	// and CollRefreshUses one claim per used refresh token (see Sessions.UseRefresh).
	CollUsers         = "users"
	CollSessions      = "sessions"
	CollRefreshTokens = "refresh_tokens"
	CollRefreshUses   = "refresh_token_uses"
	// CollAPIKeys holds tenants' API keys (the SHA-256 of each secret, never the secret).
	CollAPIKeys = "api_keys"
	// CollNarratives holds the consultant's narratives, one per (assessment, audience).
	CollNarratives = "narratives"
	// CollConversations holds users' chats with the consultant, one document per conversation.
	CollConversations = "conversations"
)

// DefaultAppName is sent to the server (it shows in server logs and
// currentOp) unless the URI sets appName itself.
const DefaultAppName = "infra-mind"

// serverSelectionTimeout bounds how long an operation waits for a reachable
// server, so a dead database fails requests quickly instead of after the
// driver's 30s default.
const serverSelectionTimeout = 10 * time.Second

// Store is a connected database with its indexes created.
type Store struct {
	Tenants     *Tenants
	Assessments *Assessments
	Results     *Results
	Reports     *Reports
	Webhooks    *Webhooks
	// Recommendations holds each assessment's ranked list.
	Recommendations *RecommendationsRepo
	// Audit is the append-only audit log.
	Audit *AuditLog
	// Users, Sessions (with their refresh tokens) and APIKeys are the identity repositories.
	Users    *Users
	Sessions *Sessions
	APIKeys  *APIKeys
	// Narratives are the consultant's written narratives.
	Narratives *Narratives
	// Conversations are users' chats with the consultant about an assessment.
	Conversations *Conversations

	client *mongo.Client
	db     *mongo.Database
	views  *views
}

// Option adjusts the driver's client options before Connect dials.
type Option func(*options.ClientOptions)

// WithCommandMonitor observes every command the store sends (tests count
// round trips with it).
func WithCommandMonitor(m *event.CommandMonitor) Option {
	return func(o *options.ClientOptions) { o.SetMonitor(m) }
}

// Connect dials uri, selects database, and creates indexes idempotently.
func Connect(ctx context.Context, uri, database string, extra ...Option) (*Store, error) {
	if database == "" {
		return nil, fmt.Errorf("store: connect: %w: database name is required", ErrInvalid)
	}
	opts := options.Client().ApplyURI(uri).SetServerSelectionTimeout(serverSelectionTimeout)
	if opts.AppName == nil {
		opts.SetAppName(DefaultAppName)
	}
	for _, o := range extra {
		o(opts)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	db := client.Database(database)
	s := &Store{
		Tenants:         &Tenants{coll: db.Collection(CollTenants), names: db.Collection(CollTenantNames)},
		Assessments:     &Assessments{coll: db.Collection(CollAssessments), finishes: db.Collection(CollFinishes), announcements: db.Collection(CollAnnouncements)},
		Results:         &Results{coll: db.Collection(CollResults)},
		Reports:         &Reports{coll: db.Collection(CollReports)},
		Webhooks:        &Webhooks{coll: db.Collection(CollWebhooks), deliveries: db.Collection(CollDeliveries)},
		Recommendations: &RecommendationsRepo{coll: db.Collection(CollRecommendations)},
		Audit:           &AuditLog{coll: db.Collection(CollAudit)},
		Users:           &Users{coll: db.Collection(CollUsers)},
		Sessions:        &Sessions{coll: db.Collection(CollSessions), tokens: db.Collection(CollRefreshTokens), uses: db.Collection(CollRefreshUses)},
		APIKeys:         &APIKeys{coll: db.Collection(CollAPIKeys)},
		Narratives:      &Narratives{coll: db.Collection(CollNarratives)},
		Conversations:   &Conversations{coll: db.Collection(CollConversations)},
		client:          client,
		db:              db,
	}
	if err := s.createIndexes(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// createIndexes declares every index with a fixed name; creating an index
// that already exists with the same name and keys is a no-op on both MongoDB
// and FerretDB, so every service may call it at start.
func (s *Store) createIndexes(ctx context.Context) error {
	specs := []struct {
		coll   string
		models []mongo.IndexModel
	}{
		{CollAssessments, []mongo.IndexModel{
			{
				// List: a tenant's assessments newest first, keyset-paged.
				Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}},
				Options: options.Index().SetName("tenant_created"),
			},
			{
				// Overdue: the deadline sweeper across tenants.
				Keys:    bson.D{{Key: "status", Value: 1}, {Key: "deadline", Value: 1}},
				Options: options.Index().SetName("status_deadline"),
			},
			{
				// Children: an assessment's versions and scenarios.
				Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "parent_id", Value: 1}, {Key: "kind", Value: 1}},
				Options: options.Index().SetName("tenant_parent_kind"),
			},
		}},
		{CollResults, []mongo.IndexModel{{
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "assessment_id", Value: 1}, {Key: "family", Value: 1}},
			Options: options.Index().SetName("tenant_assessment_family").SetUnique(true),
		}}},
		{CollReports, []mongo.IndexModel{{
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "assessment_id", Value: 1}},
			Options: options.Index().SetName("tenant_assessment").SetUnique(true),
		}}},
		{CollNarratives, []mongo.IndexModel{{
			// Narratives.List: an assessment's narratives for a report read.
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "assessment_id", Value: 1}},
			Options: options.Index().SetName("tenant_assessment"),
		}}},
		{CollConversations, []mongo.IndexModel{{
			// Conversations.List: a user's conversations about an assessment.
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "assessment_id", Value: 1}, {Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}},
			Options: options.Index().SetName("tenant_assessment_user_created"),
		}}},
		{CollWebhooks, []mongo.IndexModel{{
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "created_at", Value: 1}},
			Options: options.Index().SetName("tenant_created"),
		}}},
		{CollDeliveries, []mongo.IndexModel{{
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "webhook_id", Value: 1}, {Key: "created_at", Value: -1}},
			Options: options.Index().SetName("tenant_webhook_created"),
		}}},
		{CollAudit, []mongo.IndexModel{{
			// AuditLog.List: a tenant's records newest first, keyset-paged.
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("tenant_time"),
		}}},
		{CollUsers, []mongo.IndexModel{
			{
				// Users.GetByEmail (sign-in) and one account per email in a tenant.
				Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "email", Value: 1}},
				Options: options.Index().SetName("tenant_email").SetUnique(true),
			},
			{
				// Users.List and the owner count.
				Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "created_at", Value: 1}},
				Options: options.Index().SetName("tenant_created"),
			},
		}},
		{CollSessions, []mongo.IndexModel{
			{
				// Sessions.RevokeUser: a user's open sessions.
				Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}},
				Options: options.Index().SetName("tenant_user"),
			},
			{
				// Sessions.PurgeExpired (plain indexes, not TTL: FerretDB v1
				// has none; the application expires).
				Keys:    bson.D{{Key: "expires_at", Value: 1}},
				Options: options.Index().SetName("expires"),
			},
		}},
		{CollRefreshTokens, []mongo.IndexModel{{
			Keys:    bson.D{{Key: "expires_at", Value: 1}},
			Options: options.Index().SetName("expires"),
		}}},
		{CollRefreshUses, []mongo.IndexModel{{
			Keys:    bson.D{{Key: "expires_at", Value: 1}},
			Options: options.Index().SetName("expires"),
		}}},
		{CollAPIKeys, []mongo.IndexModel{{
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "created_at", Value: 1}},
			Options: options.Index().SetName("tenant_created"),
		}}},
	}
	// One createIndexes command per index: FerretDB v1.24.2 panics (and drops
	// the connection) when one command re-declares two or more existing
	// indexes, because validateIndexesForCreation in
	// internal/handler/msg_createindexes.go deletes from the filtered list by
	// the unfiltered position.
	for _, sp := range specs {
		for _, m := range sp.models {
			if _, err := s.db.Collection(sp.coll).Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("store: create indexes on %s: %w", sp.coll, err)
			}
		}
	}
	return nil
}

// Ping checks the server answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("store: disconnect: %w", err)
	}
	return nil
}

// Database returns the underlying database, for tests and later features
// that need a collection of their own. Callers must keep the tenant rules.
func (s *Store) Database() *mongo.Database { return s.db }

// required returns an ErrInvalid-wrapped error naming the first empty field.
// fields alternates name, value.
func required(op string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return fmt.Errorf("store: %s: %w: %s is required", op, ErrInvalid, fields[i])
		}
		// The tenant is the first part of AssessmentKey ("tenant/id"): a
		// slash in it could make two tenants' keys meet.
		if fields[i] == "tenant" && strings.Contains(fields[i+1], "/") {
			return fmt.Errorf("store: %s: %w: tenant must not contain '/'", op, ErrInvalid)
		}
	}
	return nil
}

// wrap adds context to a driver error and maps the cases callers branch on:
// no document -> ErrNotFound, duplicate key -> ErrConflict.
func wrap(op string, err error) error {
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("store: %s: %w: %w", op, ErrConflict, err)
	default:
		return fmt.Errorf("store: %s: %w", op, err)
	}
}

// byKey is the hot-path filter: the primary key alone, with the tenant inside
// the key instead of in the filter. FerretDB v1.24.2's SQLite backend
// evaluates a filter whose only field is a string _id inside SQLite and
// decodes every document in Go for anything else (backends/sqlite). Its
// PostgreSQL backend turns this filter into `_jsonb->'_id' @> '"key"'`, which
// its btree index on `_jsonb->'_id'` cannot serve: PostgreSQL reads the whole
// table (a sequential scan in EXPLAIN and in pg_stat_user_tables; measured in
// ADR 0021). No filter form avoids that there, so the pipeline's per-result
// state does not live in this store.
func byKey(key string) bson.D { return bson.D{{Key: "_id", Value: key}} }

// findByKey reads the document with primary key key into v, and reports
// ErrNotFound unless it belongs to tenant (tenantOf reads the decoded
// document's tenant): keys are derived from the tenant, so a mismatch means
// a bug, and it must still never leak a document across tenants.
func findByKey(ctx context.Context, coll *mongo.Collection, tenant, key string, v any, tenantOf func() string) error {
	// MongoDB serves this from the _id index. FerretDB v1.24.2 does not: on
	// SQLite it is a scan that stops at the match (BenchmarkLookupByKey), on
	// PostgreSQL a sequential scan of the whole table (ADR 0021).
	if err := coll.FindOne(ctx, byKey(key)).Decode(v); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return ErrNotFound
		}
		return err
	}
	if tenantOf() != tenant {
		return ErrNotFound
	}
	return nil
}

// replaceUpsert replaces the document matching filter or inserts doc. An
// upsert is "find, then insert if none" on FerretDB v1 (and may race the same
// way on MongoDB), so two concurrent upserts of one new _id can make the
// loser fail with a duplicate key; by then the document exists, and a second
// attempt replaces it.
func replaceUpsert(ctx context.Context, coll *mongo.Collection, filter, doc any) error {
	opts := options.Replace().SetUpsert(true)
	_, err := coll.ReplaceOne(ctx, filter, doc, opts)
	if mongo.IsDuplicateKeyError(err) {
		_, err = coll.ReplaceOne(ctx, filter, doc, opts)
	}
	return err
}

// nowUTC is the time stamped on documents when the caller gives none; the
// database keeps milliseconds, so truncating here makes the value a caller
// might compare equal to what it reads back.
func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return nowUTC()
	}
	return t
}
