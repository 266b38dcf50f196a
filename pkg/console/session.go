package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// Cookie names without the __Host- prefix that SecureCookies adds.
const (
	cookieAccess  = "im_access"
	cookieRefresh = "im_refresh"
	cookieCSRF    = "im_csrf"
	cookieMFA     = "im_mfa"
	// csrfField is the form field (and X-CSRF-Token the header) that must
	// repeat the CSRF cookie on every request that changes something.
	csrfField  = "csrf"
	headerCSRF = "X-CSRF-Token"
	// mfaTTL is how long the TOTP step of a sign-in waits for the code.
	mfaTTL = 5 * time.Minute
)

func (c *Console) cookieName(base string) string {
	if c.cfg.SecureCookies {
		return "__Host-" + base
	}
	return base
}

// setCookie writes an HttpOnly, SameSite=Strict cookie on path /; a zero
// expiry deletes it.
func (c *Console) setCookie(ec echo.Context, base, value string, expires time.Time) {
	ck := &http.Cookie{Name: c.cookieName(base), Value: value, Path: "/", HttpOnly: true,
		Secure: c.cfg.SecureCookies, SameSite: http.SameSiteStrictMode}
	if expires.IsZero() {
		ck.MaxAge = -1
	} else {
		ck.Expires = expires
		ck.MaxAge = max(1, int(expires.Sub(c.cfg.Now()).Seconds()))
	}
	ec.SetCookie(ck)
}

func (c *Console) cookie(ec echo.Context, base string) string {
	ck, err := ec.Cookie(c.cookieName(base))
	if err != nil {
		return ""
	}
	return ck.Value
}

// csrfToken returns the caller's CSRF token, setting a new cookie when
// there is none. The token is random and bound to the browser by a
// SameSite=Strict cookie: another site can neither read it nor make the
// browser send the cookie, so it cannot forge a form post (double submit
// on top of SameSite; see docs/adr/0031).
func (c *Console) csrfToken(ec echo.Context) string {
	if t, ok := ec.Get(cookieCSRF).(string); ok {
		return t
	}
	t := c.cookie(ec, cookieCSRF)
	if len(t) != 43 {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		t = base64.RawURLEncoding.EncodeToString(b[:])
		c.setCookie(ec, cookieCSRF, t, c.cfg.Now().Add(30*24*time.Hour))
	}
	ec.Set(cookieCSRF, t)
	return t
}

// checkCSRF refuses a request that changes something unless it repeats the
// CSRF cookie in the form or the X-CSRF-Token header, and comes from this
// origin when the browser says where it comes from (Sec-Fetch-Site).
func (c *Console) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		switch ec.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(ec)
		}
		refuse := &pageError{status: http.StatusForbidden, title: "Form expired",
			detail: "This form could not be checked (it may be from an old page or another site). Reload the page and try again."}
		if site := ec.Request().Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			return refuse
		}
		want := c.cookie(ec, cookieCSRF)
		got := ec.Request().Header.Get(headerCSRF)
		if got == "" {
			got = ec.FormValue(csrfField)
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return refuse
		}
		return next(ec)
	}
}

// requireSession reads the access-token cookie and verifies it like a bearer
// token. An expired or revoked one is replaced from the refresh cookie
// without losing the page; without a valid session a GET goes to the
// sign-in page and comes back after it.
func (c *Console) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		ctx := ec.Request().Context()
		if tok := c.cookie(ec, cookieAccess); tok != "" {
			cl, err := c.d.Sessions.Verify(ctx, tok)
			if err == nil {
				ec.Set(ClaimsKey, cl)
				return next(ec)
			}
			if !c.signedOut(err) {
				return fmt.Errorf("check the session: %w", err)
			}
		}
		if rt := c.cookie(ec, cookieRefresh); rt != "" {
			toks, err := c.d.Sessions.Refresh(ctx, rt)
			if err == nil {
				c.keepTokens(ec, toks)
				cl, err := c.d.Sessions.Verify(ctx, toks.Access)
				if err != nil {
					return fmt.Errorf("check the refreshed session: %w", err)
				}
				ec.Set(ClaimsKey, cl)
				return next(ec)
			}
			if !c.signedOut(err) {
				return fmt.Errorf("refresh the session: %w", err)
			}
		}
		c.setCookie(ec, cookieAccess, "", time.Time{})
		c.setCookie(ec, cookieRefresh, "", time.Time{})
		if ec.Request().Method != http.MethodGet || strings.HasSuffix(ec.Request().URL.Path, "/events") {
			return &pageError{status: http.StatusUnauthorized, title: "Signed out",
				detail: "Your session has ended. Sign in again.", signIn: true}
		}
		return ec.Redirect(http.StatusSeeOther, "/sign-in?next="+url.QueryEscape(ec.Request().URL.RequestURI()))
	}
}

// signedOut reports whether a session error means the credentials are no
// longer good (bad, expired, revoked or reused: the API's 401s), rather than
// that they could not be checked.
func (c *Console) signedOut(err error) bool {
	return errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrRevoked) ||
		c.d.Explain(err).Status == http.StatusUnauthorized
}

// keepTokens stores a session's tokens in their cookies.
func (c *Console) keepTokens(ec echo.Context, t Tokens) {
	// The access cookie lives as long as the session: the token inside
	// expires sooner and is then refreshed (requireSession).
	c.setCookie(ec, cookieAccess, t.Access, t.RefreshExpires)
	c.setCookie(ec, cookieRefresh, t.Refresh, t.RefreshExpires)
}

// signInView is what the sign-in page shows.
type signInView struct {
	Tenant, Email, Next string
	// NeedCode asks for the TOTP code after the password was accepted.
	NeedCode bool
	Error    string
	Fields   map[string]string
}

// safeNext keeps a return path only when it is a path on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/assessments"
	}
	return next
}

func (c *Console) signInPage(ec echo.Context) error {
	return c.render(ec, http.StatusOK, "sign-in", "Sign in", signInView{Next: safeNext(ec.QueryParam("next"))})
}

// challenge is the first step of a sign-in with MFA, kept in Redis until the
// code comes: the password sealed with a key that only the browser's
// cookie holds, so neither Redis nor the browser alone has it.
type challenge struct {
	Tenant string `json:"tenant"`
	Email  string `json:"email"`
	Sealed []byte `json:"sealed"`
}

// signIn handles both steps: tenant, email and password; then, for a user
// with MFA on, the TOTP code.
func (c *Console) signIn(ec echo.Context) error {
	ctx := ec.Request().Context()
	v := signInView{Tenant: strings.TrimSpace(ec.FormValue("tenant")), Email: strings.TrimSpace(ec.FormValue("email")),
		Next: safeNext(ec.FormValue("next")), Fields: map[string]string{}}
	password, code := ec.FormValue("password"), strings.TrimSpace(ec.FormValue("code"))
	if code != "" || ec.FormValue("step") == "code" {
		// The second step: the password comes from the challenge.
		ch, pw, err := c.takeChallenge(ec)
		if err != nil {
			return err
		}
		if ch == nil {
			v.Error = "The sign-in took too long. Start again."
			return c.render(ec, http.StatusBadRequest, "sign-in", "Sign in", v)
		}
		v.Tenant, v.Email, password = ch.Tenant, ch.Email, pw
		if code == "" {
			v.NeedCode = true
			v.Fields["code"] = "is required"
			if err := c.putChallenge(ec, v.Tenant, v.Email, password); err != nil {
				return err
			}
			return c.render(ec, http.StatusBadRequest, "sign-in", "Sign in", v)
		}
	} else {
		for _, f := range []struct{ name, v string }{{"tenant", v.Tenant}, {"email", v.Email}, {"password", password}} {
			if f.v == "" {
				v.Fields[f.name] = "is required"
			}
		}
		if len(v.Fields) > 0 {
			return c.render(ec, http.StatusBadRequest, "sign-in", "Sign in", v)
		}
	}
	toks, err := c.d.Sessions.SignIn(ctx, v.Tenant, v.Email, password, code)
	switch {
	case err == nil:
		c.keepTokens(ec, toks)
		return ec.Redirect(http.StatusSeeOther, v.Next)
	case errors.Is(err, identity.ErrMFARequired):
		if err := c.putChallenge(ec, v.Tenant, v.Email, password); err != nil {
			return err
		}
		v.NeedCode = true
		return c.render(ec, http.StatusOK, "sign-in", "Sign in", v)
	case errors.Is(err, identity.ErrInvalidMFACode):
		if err := c.putChallenge(ec, v.Tenant, v.Email, password); err != nil {
			return err
		}
		v.NeedCode = true
		v.Fields["code"] = "is not the current code of your authenticator (or was used already)"
		return c.render(ec, http.StatusUnauthorized, "sign-in", "Sign in", v)
	}
	x := c.d.Explain(err)
	if x.Status >= 500 {
		return err
	}
	for _, f := range x.Fields {
		v.Fields[f.Field] = f.Reason
	}
	v.Error = x.Detail
	return c.render(ec, x.Status, "sign-in", "Sign in", v)
}

// putChallenge keeps the first step of an MFA sign-in for mfaTTL.
func (c *Console) putChallenge(ec echo.Context, tenant, email, password string) error {
	var id, key [16]byte
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(key[:])
	sealed, err := seal(key[:], []byte(password))
	if err != nil {
		return err
	}
	b, err := json.Marshal(challenge{Tenant: tenant, Email: email, Sealed: sealed})
	if err != nil {
		return fmt.Errorf("encode sign-in challenge: %w", err)
	}
	idHex := hex.EncodeToString(id[:])
	if err := c.d.Challenges.Put(ec.Request().Context(), idHex, b, mfaTTL); err != nil {
		return fmt.Errorf("keep sign-in challenge: %w", err)
	}
	c.setCookie(ec, cookieMFA, idHex+"."+hex.EncodeToString(key[:]), c.cfg.Now().Add(mfaTTL))
	return nil
}

// takeChallenge reads and deletes the challenge the cookie names; nil when
// there is none (expired, used, or no cookie).
func (c *Console) takeChallenge(ec echo.Context) (*challenge, string, error) {
	raw := c.cookie(ec, cookieMFA)
	c.setCookie(ec, cookieMFA, "", time.Time{})
	idHex, keyHex, ok := strings.Cut(raw, ".")
	key, err := hex.DecodeString(keyHex)
	if !ok || err != nil || len(key) != 16 || len(idHex) != 32 {
		return nil, "", nil
	}
	b, ok, err := c.d.Challenges.Take(ec.Request().Context(), idHex)
	if err != nil {
		return nil, "", fmt.Errorf("read sign-in challenge: %w", err)
	}
	if !ok {
		return nil, "", nil
	}
	var ch challenge
	if err := json.Unmarshal(b, &ch); err != nil {
		return nil, "", nil
	}
	pw, err := open(key, ch.Sealed)
	if err != nil {
		return nil, "", nil
	}
	return &ch, string(pw), nil
}

func seal(key, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

func open(key, sealed []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed value too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
}

// signOut ends the session everywhere and clears the cookies.
func (c *Console) signOut(ec echo.Context) error {
	if err := c.d.Sessions.SignOut(ec.Request().Context(), claims(ec)); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	c.setCookie(ec, cookieAccess, "", time.Time{})
	c.setCookie(ec, cookieRefresh, "", time.Time{})
	return ec.Redirect(http.StatusSeeOther, "/sign-in")
}

// signedIn is the caller as the layout shows them.
type signedIn struct {
	Tenant, Role string
}

func whoOf(cl *auth.Claims) *signedIn {
	if cl == nil {
		return nil
	}
	role := ""
	if len(cl.Roles) > 0 {
		role = cl.Roles[0]
	}
	return &signedIn{Tenant: cl.Tenant, Role: role}
}
