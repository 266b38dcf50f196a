package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// AuditLog reads a tenant's audit log, newest first; *store.AuditLog is the
// real one. A cursor it did not issue is store.ErrBadCursor.
type AuditLog interface {
	List(ctx context.Context, tenant string, q store.AuditQuery) (store.AuditPage, error)
}

// Audit runs the audit log's read use case.
type Audit struct {
	log AuditLog
}

// NewAudit returns the audit use case over a log.
func NewAudit(log AuditLog) (*Audit, error) {
	if log == nil {
		return nil, errors.New("app: an audit log is required")
	}
	return &Audit{log: log}, nil
}

// List returns a page of tenant's audit records, newest first. Records of
// failed authentications carry no tenant, so an empty tenant is ErrNoTenant
// and never reaches the log; a window whose To is not after its From is a
// *FieldError on "to".
func (a *Audit) List(ctx context.Context, tenant string, q store.AuditQuery) (store.AuditPage, error) {
	if tenant == "" {
		return store.AuditPage{}, ErrNoTenant
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return store.AuditPage{}, &FieldError{Field: "to", Reason: "must be later than from"}
	}
	page, err := a.log.List(ctx, tenant, q)
	if err != nil {
		return store.AuditPage{}, fmt.Errorf("list audit records: %w", err)
	}
	return page, nil
}
