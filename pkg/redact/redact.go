// Package redact removes credentials from text bound for logs and audit
// records: API keys, access and refresh tokens, passwords, TOTP secrets,
// webhook signing secrets, Vault tokens and the passwords in connection
// URLs. Callers redact what they log at the source; ReplaceAttr applies the
// same rules to every record of a slog handler as a second line of defence.
package redact

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a credential.
const Mask = "[REDACTED]"

// rule rewrites one shape of credential. trigger is a substring every match
// contains (case-insensitive when fold is set), so text without it skips
// the expression.
type rule struct {
	trigger string
	fold    bool
	re      *regexp.Regexp
	repl    string
}

// rules are the credential shapes, most specific first. API keys keep their
// id (pkg/identity: "imk_<12 base32 id>_<secret>"), which names the key
// without proving possession; webhook secrets keep their "whsec_" prefix.
var rules = []rule{
	{"imk_", false, regexp.MustCompile(`imk_([a-z2-7]{12})_[A-Za-z0-9_-]+`), "imk_${1}_" + Mask},
	{"imk_", false, regexp.MustCompile(`imk_[A-Za-z0-9_-]{14,}`), "imk_" + Mask},
	{"whsec_", false, regexp.MustCompile(`whsec_[A-Za-z0-9_-]+`), "whsec_" + Mask},
	// A JWT's header is base64url JSON, so it starts "eyJ" ({").
	{"eyJ", false, regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?`), Mask},
	{"otpauth:", true, regexp.MustCompile(`(?i)otpauth://[^\s"'<>]+`), "otpauth://" + Mask},
	// Vault and OpenBao service, batch and recovery tokens.
	{"hv", false, regexp.MustCompile(`\bhv[sbr]\.[A-Za-z0-9_-]{20,}`), Mask},
	// Authorization header values: the scheme stays, the credential goes
	// (six characters or more, so a challenge's "realm" is kept).
	{"bearer", true, regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]{6,}=*`), "$1 " + Mask},
	{"basic", true, regexp.MustCompile(`(?i)\b(basic)\s+[A-Za-z0-9._~+/-]{6,}=*`), "$1 " + Mask},
	// Query strings and form bodies.
	{"=", false, regexp.MustCompile(`(?i)\b(access_token|refresh_token|id_token|api_key|apikey|api-key|client_secret|totp_code|totp_secret|current_password|new_password|password|passwd|vault_token|x-vault-token)=[^&\s"',;]+`), "$1=" + Mask},
	{"=", false, regexp.MustCompile(`(?i)([?&;])(token|key|code|secret|sig|signature|auth)=[^&\s"'#]+`), "$1$2=" + Mask},
	// JSON members, as in a logged request body.
	{`"`, false, regexp.MustCompile(`(?i)"(access_token|refresh_token|id_token|api_key|key|secret|totp_secret|totp_code|code|token|password|current_password|new_password|vault_token)"(\s*:\s*)"(?:[^"\\]|\\.)*"`), `"$1"$2"` + Mask + `"`},
	// The password of a connection URL (redis://user:pass@host).
	{"@", false, regexp.MustCompile(`(://[^/\s:@]*):[^/\s@]+@`), "$1:" + Mask + "@"},
}

// String returns s with every credential it recognises replaced by Mask.
// It recognises credentials by shape, so a password in free text (which has
// none) is left: never log a password, only a field that may hold one.
func String(s string) string {
	var lower string
	for _, r := range rules {
		if r.fold {
			if lower == "" {
				lower = strings.ToLower(s)
			}
			if !strings.Contains(lower, r.trigger) {
				continue
			}
		} else if !strings.Contains(s, r.trigger) {
			continue
		}
		s = r.re.ReplaceAllString(s, r.repl)
		lower = ""
	}
	return s
}

// URL returns raw with the password of its user info and the value of every
// query parameter masked: a URL a user registers (a webhook's) may carry a
// credential under any parameter name. Text that does not parse as a URL is
// passed through String.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return String(raw)
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i := range vs {
				vs[i] = Mask
			}
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	u.Fragment, u.RawFragment = "", ""
	return strings.ReplaceAll(u.String(), url.QueryEscape(Mask), Mask)
}

// sensitiveKeys are attribute keys whose value is a credential whatever its
// shape, after lower-casing and dropping '_', '-' and '.'.
var sensitiveKeys = map[string]bool{
	"authorization": true, "proxyauthorization": true, "cookie": true, "setcookie": true,
	"xapikey": true, "apikey": true, "xvaulttoken": true,
	"password": true, "passwd": true, "secret": true, "token": true,
	"totp": true, "totpcode": true, "otp": true, "privatekey": true,
}

// SensitiveKey reports whether a log attribute or header named key holds a
// credential: the names in sensitiveKeys and any ending in "password",
// "secret" or "token" (new_password, client_secret, refresh_token).
func SensitiveKey(key string) bool {
	k := strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(key))
	if sensitiveKeys[k] {
		return true
	}
	return strings.HasSuffix(k, "password") || strings.HasSuffix(k, "secret") || strings.HasSuffix(k, "token")
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that masks the value of
// a sensitive key and redacts every string, error and other value (the
// message included) with String.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	if SensitiveKey(a.Key) {
		return slog.String(a.Key, Mask)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); String(s) != s {
			return slog.String(a.Key, String(s))
		}
	case slog.KindAny:
		return slog.Attr{Key: a.Key, Value: anyValue(a.Value.Any())}
	}
	return a
}

// anyValue redacts an arbitrary attribute value: an error or Stringer by
// its text, anything else by its JSON, which the JSON handler would write.
// A value that holds no credential is kept as it was.
func anyValue(v any) slog.Value {
	var text string
	switch x := v.(type) {
	case nil:
		return slog.AnyValue(v)
	case error:
		text = x.Error()
	case fmt.Stringer:
		text = x.String()
	default:
		b, err := json.Marshal(x)
		if err != nil {
			text = fmt.Sprint(x)
		} else {
			text = string(b)
		}
	}
	if r := String(text); r != text {
		return slog.StringValue(r)
	}
	return slog.AnyValue(v)
}
