package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The receiver code below is printed verbatim in docs/events.md
// (TestDocumentedReceiverIsTested keeps the two equal), so the code people
// copy is the code these tests run.

// BEGIN receiver

// verifyWebhook checks an Infra Mind webhook delivery. secret is the signing
// secret shown when the webhook was created. It returns the raw body to
// decode, or an error: answer 400 then, and do not act on the body.
func verifyWebhook(secret string, r *http.Request, now time.Time) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	ts := r.Header.Get("Webhook-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, errors.New("missing or malformed Webhook-Timestamp")
	}
	// Reject old (replayed) and far-future deliveries.
	if age := now.Sub(time.Unix(sec, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return nil, errors.New("webhook timestamp too old or in the future")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	// The header may list several signatures (during a secret change).
	for _, sig := range strings.Fields(r.Header.Get("Webhook-Signature")) {
		got, err := hex.DecodeString(strings.TrimPrefix(sig, "v1="))
		if err == nil && strings.HasPrefix(sig, "v1=") && hmac.Equal(got, want) {
			return body, nil
		}
	}
	return nil, errors.New("webhook signature does not match")
}

// END receiver
