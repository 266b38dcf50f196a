package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/redact"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// Every gateway a test builds logs through the services' logger into a
// logSink, and its HTTP server records every credential the test's traffic
// carried: bearer tokens and API keys sent, passwords and refresh tokens in
// request bodies, tokens in query strings, and the access and refresh
// tokens, API keys, generated passwords, TOTP secrets and webhook signing
// secrets the gateway answered with. When the test ends, no log line may
// hold any of them.

// minCredentialLen is the shortest value checked: shorter ones (a TOTP
// code's six digits, a one-letter password the validator refused) would
// match unrelated text such as durations and counts.
const minCredentialLen = 8

// maxCaptured bounds how much of one request or response body is kept.
const maxCaptured = 1 << 20

// logSink is the log of one test's gateways and the credentials its
// traffic carried.
type logSink struct {
	mu          sync.Mutex
	lines       bytes.Buffer
	credentials map[string]bool
	echo        io.Writer // stderr under -v, else nil
	log         *slog.Logger
}

// newLogSink returns a sink whose logger is the services' (telemetry.NewLogger,
// JSON at debug level) and checks it when the test ends.
func newLogSink(t *testing.T) *logSink {
	t.Helper()
	s := &logSink{credentials: map[string]bool{}}
	if testing.Verbose() {
		s.echo = os.Stderr
	}
	log, err := telemetry.NewLogger(s, "gateway", "debug")
	require.NoError(t, err)
	s.log = log
	t.Cleanup(func() { s.check(t) })
	return s
}

// Write collects log output.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines.Write(p)
	if s.echo != nil {
		_, _ = s.echo.Write(p)
	}
	return len(p), nil
}

// text returns everything logged so far.
func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines.String()
}

// add records a credential the traffic carried.
func (s *logSink) add(v string) {
	v = strings.TrimSpace(v)
	if len(v) < minCredentialLen {
		return
	}
	s.mu.Lock()
	s.credentials[v] = true
	s.mu.Unlock()
}

// check fails the test for every log line holding a credential, raw or as
// JSON escapes it, and reports how much it checked.
func (s *logSink) check(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s.lines.String(), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	for c := range s.credentials {
		forms := []string{c}
		if b, err := json.Marshal(c); err == nil && string(b[1:len(b)-1]) != c {
			forms = append(forms, string(b[1:len(b)-1]))
		}
		for i, line := range lines {
			for _, f := range forms {
				if strings.Contains(line, f) {
					t.Errorf("log line %d holds a credential the test used (%d characters, starting %.4q): %s", i+1, len(c), c, strings.ReplaceAll(line, f, "<credential>"))
				}
			}
		}
	}
	t.Logf("log check: %d log lines, %d credentials, none logged", len(lines), len(s.credentials))
}

// record wraps a gateway's handler so the sink learns the credentials of
// every request and answer. Bodies are copied as the handler reads or
// writes them, so limits, deadlines and streaming behave as without it.
func (s *logSink) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			_, cred, ok := strings.Cut(h, " ")
			if !ok {
				cred = h
			}
			s.add(cred)
		}
		s.add(r.Header.Get("X-Api-Key"))
		for k, vs := range r.URL.Query() {
			if credentialMember(k) {
				for _, v := range vs {
					s.add(v)
				}
			}
		}
		var in bytes.Buffer
		if r.Body != nil {
			r.Body = teeBody{ReadCloser: r.Body, copy: &capped{buf: &in}}
		}
		rw := &recordingWriter{ResponseWriter: w, copy: capped{buf: &bytes.Buffer{}}}
		next.ServeHTTP(rw, r)
		s.addJSON(in.Bytes())
		if !rw.stream {
			s.addJSON(rw.copy.buf.Bytes())
		}
	})
}

// credentialMember reports whether a JSON member or query parameter named
// k holds a credential: the gateway's own names (api_key's "key", TOTP
// enrolment's "secret" and "otpauth_url") and every sensitive name.
func credentialMember(k string) bool {
	switch strings.ToLower(k) {
	case "key", "secret", "otpauth_url", "api_key", "access_token", "refresh_token":
		return true
	}
	return redact.SensitiveKey(k)
}

// addJSON records the credential members of a JSON body, at any depth.
func (s *logSink) addJSON(body []byte) {
	var v any
	if len(body) == 0 || json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, m := range x {
				if str, ok := m.(string); ok && credentialMember(k) {
					s.add(str)
					if u, err := url.Parse(str); err == nil && u.Scheme == "otpauth" {
						s.add(u.Query().Get("secret"))
					}
				}
				walk(m)
			}
		case []any:
			for _, m := range x {
				walk(m)
			}
		}
	}
	walk(v)
}

// capped keeps the first maxCaptured bytes written to it.
type capped struct{ buf *bytes.Buffer }

func (c capped) Write(p []byte) {
	if room := maxCaptured - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
}

// teeBody copies what the handler reads of a request body.
type teeBody struct {
	io.ReadCloser
	copy *capped
}

func (b teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.copy.Write(p[:n])
	return n, err
}

// recordingWriter copies a response body, except an event stream's.
type recordingWriter struct {
	http.ResponseWriter
	copy           capped
	header, stream bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.header {
		w.header = true
		w.stream = strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if !w.header {
		w.WriteHeader(http.StatusOK)
	}
	if !w.stream {
		w.copy.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// Flush keeps event streams flowing.
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
