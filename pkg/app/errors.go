package app

import (
	"errors"
	"fmt"
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

// NotQueuedError is an assessment stored but not handed to the pipeline.
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
