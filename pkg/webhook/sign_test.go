package webhook

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewSecretIsRandomAndPrefixed(t *testing.T) {
	t.Parallel()
	a, err := NewSecret()
	require.NoError(t, err)
	b, err := NewSecret()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, SecretPrefix))
	require.Len(t, strings.TrimPrefix(a, SecretPrefix), 43, "32 bytes in unpadded base64url")
}

// signedRequest builds the request a delivery sends.
func signedRequest(t *testing.T, secret string, ts int64, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "https://receiver.example/in", bytes.NewReader(body))
	require.NoError(t, err)
	r.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	r.Header.Set(HeaderSignature, Sign(secret, ts, body))
	return r
}

func TestDocumentedReceiverVerifies(t *testing.T) {
	t.Parallel()
	const secret = "whsec_test-secret"
	body := []byte(`{"specversion":"1.0","id":"e1","type":"dev.inframind.assessment.completed.v1","data":{"status":"completed"}}`)
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		wantErr string
	}{
		{name: "valid", req: func(t *testing.T) *http.Request { return signedRequest(t, secret, now.Unix(), body) }},
		{name: "valid, four minutes old", req: func(t *testing.T) *http.Request {
			return signedRequest(t, secret, now.Add(-4*time.Minute).Unix(), body)
		}},
		{name: "expired timestamp", wantErr: "too old",
			req: func(t *testing.T) *http.Request {
				return signedRequest(t, secret, now.Add(-6*time.Minute).Unix(), body)
			}},
		{name: "timestamp far in the future", wantErr: "too old",
			req: func(t *testing.T) *http.Request {
				return signedRequest(t, secret, now.Add(10*time.Minute).Unix(), body)
			}},
		{name: "tampered body", wantErr: "does not match", req: func(t *testing.T) *http.Request {
			r := signedRequest(t, secret, now.Unix(), body)
			r.Body = readCloser(bytes.Replace(body, []byte("completed\"}"), []byte("failed\"}"), 1))
			return r
		}},
		{name: "timestamp changed after signing", wantErr: "does not match", req: func(t *testing.T) *http.Request {
			r := signedRequest(t, secret, now.Unix(), body)
			r.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()-1, 10))
			return r
		}},
		{name: "wrong secret", wantErr: "does not match",
			req: func(t *testing.T) *http.Request { return signedRequest(t, "whsec_other", now.Unix(), body) }},
		{name: "missing signature", wantErr: "does not match", req: func(t *testing.T) *http.Request {
			r := signedRequest(t, secret, now.Unix(), body)
			r.Header.Del(HeaderSignature)
			return r
		}},
		{name: "missing timestamp", wantErr: "Webhook-Timestamp", req: func(t *testing.T) *http.Request {
			r := signedRequest(t, secret, now.Unix(), body)
			r.Header.Del(HeaderTimestamp)
			return r
		}},
		{name: "old and new secret both listed", req: func(t *testing.T) *http.Request {
			r := signedRequest(t, secret, now.Unix(), body)
			r.Header.Set(HeaderSignature, Sign("whsec_old", now.Unix(), body)+" "+Sign(secret, now.Unix(), body))
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := verifyWebhook(secret, tc.req(t), now)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, body, got)
		})
	}
}

func TestVerifyMatchesSign(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	sig := Sign("s", now.Unix(), body)
	require.NoError(t, Verify("s", strconv.FormatInt(now.Unix(), 10), sig, body, now, DefaultTolerance))
	require.ErrorIs(t, Verify("s", strconv.FormatInt(now.Unix(), 10), sig, []byte(`{"a":2}`), now, DefaultTolerance), ErrBadSignature)
	require.ErrorIs(t, Verify("s", strconv.FormatInt(now.Unix(), 10), sig, body, now.Add(6*time.Minute), DefaultTolerance), ErrStale)
}

// TestDocumentedReceiverIsTested keeps docs/events.md's receiver snippet
// identical to verifyWebhook above.
func TestDocumentedReceiverIsTested(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("receiver_test.go")
	require.NoError(t, err)
	s := string(src)
	begin := strings.Index(s, "// BEGIN receiver\n")
	end := strings.Index(s, "// END receiver")
	require.True(t, begin >= 0 && end > begin)
	code := strings.TrimSpace(s[begin+len("// BEGIN receiver\n") : end])

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	require.NoError(t, err)
	require.True(t, strings.Contains(string(doc), code), "docs/events.md must show verifyWebhook exactly as pkg/webhook/receiver_test.go has it")
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func readCloser(b []byte) nopCloser { return nopCloser{bytes.NewReader(b)} }
