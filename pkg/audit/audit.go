// Package audit describes the audit log's records (who did what to which
// tenant resource, with what outcome, from where) and writes them
// asynchronously so recording never slows or fails the request it describes.
// The log is append-only: the writer only ever inserts.
package audit

import (
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Anonymous is the actor of a request whose identity was not verified. An
// unverified token's subject is never recorded: anyone can write one.
const Anonymous = "anonymous"

// Authentication actions, recorded whatever route was asked for.
const (
	ActionAuthFailed    = "auth.failed"
	ActionAuthSucceeded = "auth.succeeded"
)

// Outcome is how a recorded request ended.
type Outcome string

// Outcomes, derived from the HTTP status by OutcomeOf.
const (
	Success  Outcome = "success"   // 1xx-3xx
	Denied   Outcome = "denied"    // 401, 403, 429: the caller was refused
	NotFound Outcome = "not_found" // 404, 410 (also another tenant's id)
	Invalid  Outcome = "invalid"   // other 4xx: the request itself was wrong
	Error    Outcome = "error"     // 5xx: we failed
)

// OutcomeOf maps a final HTTP status to an outcome.
func OutcomeOf(status int) Outcome {
	switch {
	case status < 400:
		return Success
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusTooManyRequests:
		return Denied
	case status == http.StatusNotFound, status == http.StatusGone:
		return NotFound
	case status < 500:
		return Invalid
	default:
		return Error
	}
}

// Resource names what a request acted on.
type Resource struct {
	// Type is the kind of resource ("assessment", "webhook", "route").
	Type string `bson:"type" json:"type"`
	// ID is the resource's id, empty for collections (a list).
	ID string `bson:"id,omitempty" json:"id,omitempty"`
	// Parent is the id of the resource it belongs to (a scenario's base
	// assessment), empty when it has none.
	Parent string `bson:"parent,omitempty" json:"parent,omitempty"`
}

// Record is one audit log entry. Records are immutable once written.
type Record struct {
	// ID is a UUIDv7: unique and ordered by creation time.
	ID string `bson:"_id" json:"id"`
	// Time is when the request arrived (UTC, millisecond precision, the
	// precision the database keeps).
	Time time.Time `bson:"time" json:"time"`
	// Tenant is the verified tenant, or "" when the caller was not
	// authenticated: a tenant named by an unverified token is not trusted,
	// so forged tokens cannot write into a tenant's log.
	Tenant string `bson:"tenant_id" json:"tenant_id"`
	// Actor is the verified subject, or Anonymous.
	Actor string   `bson:"actor" json:"actor"`
	Roles []string `bson:"roles,omitempty" json:"roles,omitempty"`
	// Action is what was attempted ("assessment.read", "auth.failed").
	Action   string   `bson:"action" json:"action"`
	Resource Resource `bson:"resource" json:"resource"`
	Outcome  Outcome  `bson:"outcome" json:"outcome"`
	// Status is the HTTP status of the answer.
	Status    int    `bson:"status" json:"status"`
	RequestID string `bson:"request_id" json:"request_id"`
	// SourceAddr is the client address as the gateway resolves it (it may
	// come from X-Forwarded-For); PeerAddr is the TCP peer, which a client
	// cannot forge, kept so a forged header never hides the real sender.
	SourceAddr string `bson:"source_addr" json:"source_addr"`
	PeerAddr   string `bson:"peer_addr,omitempty" json:"peer_addr,omitempty"`
	UserAgent  string `bson:"user_agent,omitempty" json:"user_agent,omitempty"`
}

// NewID returns a new record id (UUIDv7, RFC 9562 section 5.7): its leading
// 48 bits are the Unix time in milliseconds, so ids sort by creation time.
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("audit: new record id: %w", err)
	}
	return id.String(), nil
}

// maxFieldLen bounds the client-controlled strings a record keeps (user
// agent, ids from the path), so one request cannot write a huge record.
const maxFieldLen = 256

// Clip shortens s to at most maxFieldLen bytes without splitting a UTF-8
// sequence.
func Clip(s string) string {
	if len(s) <= maxFieldLen {
		return s
	}
	cut := maxFieldLen
	// Step back over continuation bytes (10xxxxxx) to a rune start.
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
