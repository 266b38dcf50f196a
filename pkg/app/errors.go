package app

import (
	"errors"
	"fmt"
	"time"
)

// ErrIdempotencyKeyReused is an idempotency key that came back with a different
// request than the one it first created.
var ErrIdempotencyKeyReused = errors.New("app: idempotency key reused with a different request")

// ErrTooManyVersions is a re-run whose concurrent re-runs kept taking the version numbers
// this one picked.
var ErrTooManyVersions = errors.New("app: too many concurrent re-runs of one assessment")

// ErrNoScenario is a scenario that does not exist, is another assessment's or is
// not a scenario.
var ErrNoScenario = errors.New("app: no such scenario of this assessment")

// BusyError is a new assessment refused before it was stored because the
// pipeline already has as many in flight as it can finish in time.
// RetryAfter is when to try again; InFlight and Limit say why.
type BusyError struct {
	InFlight, Limit int
	RetryAfter      time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("app: %d assessments in flight, the limit is %d", e.InFlight, e.Limit)
}

// NotQueuedError is an assessment not handed to the pipeline: stored but
// not queued (its deadline is scheduled, so it fails at it unless a retry
// queues it), or not stored because its deadline could not be scheduled.
// Retry says how to retry without creating a duplicate.
type NotQueuedError struct {
	ID    string
	Retry string
	Err   error
}

func (e *NotQueuedError) Error() string {
	return fmt.Sprintf("app: queue assessment %s: %v", e.ID, e.Err)
}

func (e *NotQueuedError) Unwrap() error { return e.Err }

// NotBaseError is a version or scenario asked of an assessment that is itself
// one: versions and scenarios hang off the base.
type NotBaseError struct {
	ID, Kind, ParentID string
}

func (e *NotBaseError) Error() string {
	return fmt.Sprintf("app: assessment %s is a %s of %s, not a base", e.ID, e.Kind, e.ParentID)
}

// NoVersionError is a version number the assessment does not have. Param
// names the input that asked for it ("from" or "to").
type NoVersionError struct {
	Version int
	Param   string
}

func (e *NoVersionError) Error() string {
	return fmt.Sprintf("app: no version %d (%s)", e.Version, e.Param)
}

// NotReadyError is a report or recommendation list asked of an assessment
// before it was written: the assessment is still running (Status), or ended
// and its outputs are not stored yet.
type NotReadyError struct {
	// What is "report" or "recommendations".
	What   string
	ID     string
	Status string
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("app: the %s of %s is not written yet (status %s)", e.What, e.ID, e.Status)
}

// NotComparableError is a comparison (a version or scenario diff) one of whose
// assessments has no report yet.
type NotComparableError struct {
	ID, Status string
}

func (e *NotComparableError) Error() string {
	return fmt.Sprintf("app: assessment %s has no report to compare yet (status %s)", e.ID, e.Status)
}

// NotRenderableError is a report stored before reports carried their model
// (Err wraps report.ErrNoModel) asked for in a format other than JSON: its
// stored JSON is all there is to serve.
type NotRenderableError struct {
	ID     string
	Format Format
	Err    error
}

func (e *NotRenderableError) Error() string {
	return fmt.Sprintf("app: report of %s cannot be rendered as %s: %v", e.ID, e.Format, e.Err)
}

func (e *NotRenderableError) Unwrap() error { return e.Err }

// ErrTooManyWebhooks is a registration by a tenant that has
// MaxWebhooksPerTenant endpoints already.
var ErrTooManyWebhooks = errors.New("app: too many webhooks")

// ErrNoWebhook is a webhook that does not exist or is another tenant's.
var ErrNoWebhook = errors.New("app: no such webhook")

// ErrNoTenant is a tenant-scoped read by a caller without a verified tenant.
var ErrNoTenant = errors.New("app: no tenant")

// FieldError is an input a use case refuses, naming the field as the API
// spells it and why, in words a person can act on.
type FieldError struct {
	Field, Reason string
	Err           error
}

func (e *FieldError) Error() string { return "app: " + e.Field + ": " + e.Reason }

func (e *FieldError) Unwrap() error { return e.Err }
