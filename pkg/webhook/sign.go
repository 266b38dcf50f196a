// Package webhook delivers Infra Mind's events to tenants' HTTPS endpoints:
// it validates endpoint URLs against server-side request forgery, signs each
// delivery with the endpoint's secret, and runs the dispatcher that fans
// events out to one durable message per (event, endpoint) and retries each
// with backoff, recording every attempt.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Delivery headers (documented in docs/events.md, "Webhooks").
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
	// ContentType is the CloudEvents structured-mode JSON media type
	// (CloudEvents JSON event format 1.0, section 4).
	ContentType = "application/cloudevents+json"
)

// signatureVersion prefixes the signature; a new scheme gets a new prefix
// and receivers can accept both during a change.
const signatureVersion = "v1="

// SecretPrefix marks a webhook signing secret, so one is recognisable in a
// configuration file or a secret scanner.
const SecretPrefix = "whsec_"

// DefaultTolerance is how old a timestamp a receiver accepts: older
// deliveries are treated as replays.
const DefaultTolerance = 5 * time.Minute

// Errors Verify returns.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp outside the tolerance")
)

// NewSecret returns a new signing secret: 32 bytes from crypto/rand,
// base64url encoded. RFC 2104 section 3 discourages HMAC keys shorter than
// the hash output, which is 32 bytes for SHA-256.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: generate secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Sign returns the Webhook-Signature value of body sent at timestamp (unix
// seconds): "v1=" + hex(HMAC-SHA256(secret, "<timestamp>.<body>")). The key is
// the secret string's bytes as shown at registration. The timestamp is inside
// the MAC so a captured delivery cannot be replayed later with a new one.
func Sign(secret string, timestamp int64, body []byte) string {
	return signatureVersion + hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery as a receiver does: the timestamp is within
// tolerance of now and one of the signatures in signature (space-separated
// "v1=<hex>" entries) matches, compared in constant time.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrStale, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: sent %s ago", ErrStale, d.Round(time.Second))
	}
	want := mac(secret, timestamp, body)
	for _, s := range strings.Fields(signature) {
		got, err := hex.DecodeString(strings.TrimPrefix(s, signatureVersion))
		if err == nil && strings.HasPrefix(s, signatureVersion) && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}
