package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// refreshPrefix starts every refresh token, so one is recognisable in a
// secret scanner or a log, and never mistaken for an API key ("imk_").
const refreshPrefix = "imr_"

// tokenBytes of randomness in a refresh token or an API key secret: 256 bits.
const tokenBytes = 32

// revocationSkew outlives a revoked token by the clock skew the verifier
// tolerates on exp, so a token still accepted somewhere stays revoked, plus
// a second for stores that expire keys on a coarse clock (the embedded
// Redis-protocol server expires them on a 100 ms tick, up to a tick early).
const revocationSkew = auth.ClockSkew + time.Second

// revocationTTL is how long a revocation entry lasts: as long as an access
// token it names could still be accepted.
func (s *Service) revocationTTL() time.Duration { return s.opt.AccessTTL + revocationSkew }

// newRefreshToken returns a new opaque refresh token and the hex SHA-256
// it is stored under.
func newRefreshToken() (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate refresh token: %w", err)
	}
	token = refreshPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, sha256Hex(token), nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// wellFormedRefresh reports whether t looks like a token newRefreshToken
// made, so garbage is refused without a database read.
func wellFormedRefresh(t string) bool {
	rest, ok := strings.CutPrefix(t, refreshPrefix)
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil && len(b) == tokenBytes
}

// Refresh rotates a refresh token: the presented one is used up and a new
// one in the same session (expiring with it) is returned, with an access
// token carrying the user's current role. Presenting a used token again is
// reuse (it was stolen, or the client is broken): the whole session is
// revoked, including access tokens already issued for it, and the answer
// is ErrRefreshReused.
//
// A process that stops after using up the token and before answering
// leaves the client with a used token; its retry is treated as reuse and
// the user signs in again. That errs on the side of the stolen-token case.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	if !wellFormedRefresh(refreshToken) {
		return Session{}, ErrRefreshInvalid
	}
	now := s.now()
	tok, err := s.st.Sessions.UseRefresh(ctx, sha256Hex(refreshToken), now)
	switch {
	case errors.Is(err, store.ErrRefreshUsed):
		s.log.WarnContext(ctx, "refresh token reused; revoking its session",
			"tenant", tok.TenantID, "user", tok.UserID, "session", tok.SessionID)
		if err := s.revokeSession(ctx, tok.TenantID, tok.SessionID, now); err != nil {
			return Session{}, fmt.Errorf("identity: refresh: revoke reused session: %w", err)
		}
		return Session{}, ErrRefreshReused
	case errors.Is(err, store.ErrNotFound):
		return Session{}, ErrRefreshInvalid
	case err != nil:
		return Session{}, fmt.Errorf("identity: refresh: %w", err)
	}
	if !now.Before(tok.ExpiresAt) {
		return Session{}, ErrRefreshInvalid
	}
	sess, err := s.st.Sessions.Get(ctx, tok.TenantID, tok.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrRefreshInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("identity: refresh: %w", err)
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return Session{}, ErrRefreshInvalid
	}
	u, err := s.st.Users.Get(ctx, tok.TenantID, tok.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrRefreshInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("identity: refresh: %w", err)
	}
	// A session created in the same millisecond as a "sign out everywhere"
	// may have been created before it: it is revoked too.
	if u.Disabled || (!u.SessionsRevokedAt.IsZero() && !sess.CreatedAt.After(u.SessionsRevokedAt)) {
		return Session{}, ErrRefreshInvalid
	}
	return s.issue(ctx, u, sess, now)
}

// revokeSession revokes a session in the revocation list (its access
// tokens, at once on every replica) and in the store (its refresh tokens). A session that is
// not in the store (a development token's) only gets the revocation entry.
func (s *Service) revokeSession(ctx context.Context, tenant, sid string, now time.Time) error {
	if err := s.st.Revocations.RevokeSessions(ctx, []string{sid}, s.revocationTTL()); err != nil {
		return fmt.Errorf("revoke session %s: %w", sid, err)
	}
	if err := s.st.Sessions.Revoke(ctx, tenant, sid, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke session %s: %w", sid, err)
	}
	return nil
}

// Logout revokes the access token cl came from (its jti, until it
// expires) and, when it names one, its session with every token of it.
func (s *Service) Logout(ctx context.Context, cl *auth.Claims) error {
	if cl == nil {
		return errors.New("identity: logout: no claims")
	}
	now := s.now()
	if cl.ID != "" && cl.ExpiresAt != nil {
		if ttl := cl.ExpiresAt.Sub(now) + revocationSkew; ttl > 0 {
			if err := s.st.Revocations.RevokeToken(ctx, cl.ID, ttl); err != nil {
				return fmt.Errorf("identity: logout: revoke token: %w", err)
			}
		}
	}
	if cl.Session != "" {
		if err := s.revokeSession(ctx, cl.Tenant, cl.Session, now); err != nil {
			return fmt.Errorf("identity: logout: %w", err)
		}
	}
	return nil
}

// RevokeUserSessions signs one of tenant's users out everywhere: every
// open session and its refresh tokens are revoked in the store, each of
// those sessions by id in the revocation list (so every access token of theirs stops, on
// every replica), and every access token issued to the user until now by
// the subject entry. A sign-in after the revocation, even within the same
// second, works: its tokens are issued from the next second (issueFrom).
func (s *Service) RevokeUserSessions(ctx context.Context, tenant, userID string) error {
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	now := s.now()
	// The store first: it proves userID is one of tenant's users before
	// it becomes part of a revocation entry.
	if _, err := s.st.Users.RevokeSessions(ctx, tenant, userID, now); err != nil {
		return notFound("revoke user sessions", err)
	}
	sids, err := s.st.Sessions.RevokeUser(ctx, tenant, userID, now)
	if err != nil {
		return fmt.Errorf("identity: revoke user sessions: %w", err)
	}
	if err := s.st.Revocations.RevokeSubject(ctx, tenant, userID, now, sids, s.revocationTTL()); err != nil {
		return fmt.Errorf("identity: revoke user sessions: %w", err)
	}
	return nil
}

// CheckRevoked answers whether a verified access token was revoked, in one
// round trip to the revocation list: nil, ErrRevoked, or a Redis error (the caller must
// refuse the request: a revocation it cannot see must not let a token in).
func (s *Service) CheckRevoked(ctx context.Context, cl *auth.Claims) error {
	if cl == nil {
		return errors.New("identity: check revoked: no claims")
	}
	q := RevocationQuery{TokenID: cl.ID, Session: cl.Session}
	if cl.Subject != "" && cl.Tenant != "" && cl.IssuedAt != nil {
		q.Tenant, q.Subject = cl.Tenant, cl.Subject
	}
	if q == (RevocationQuery{}) {
		return nil
	}
	st, err := s.st.Revocations.Check(ctx, q)
	if err != nil {
		return fmt.Errorf("identity: check revoked: %w", err)
	}
	if st.Revoked {
		return ErrRevoked
	}
	if !st.SubjectRevokedAt.IsZero() && revokedBySubject(cl, st.SubjectRevokedAt.Unix()) {
		return ErrRevoked
	}
	return nil
}

// revokedBySubject reports whether the subject entry of a "sign out
// everywhere" or a role change made in second revokedAt covers the token
// cl: every token issued up to and including that second. issueFrom makes
// sure no token issued after the entry was written carries that second.
func revokedBySubject(cl *auth.Claims, revokedAt int64) bool {
	return cl.IssuedAt.Unix() <= revokedAt
}

// issueFrom is the earliest issue time a new access token for u may carry:
// zero (now) normally, and the second after the subject entry's when one
// is in force.
//
// An access token's iat is a whole second (an RFC 7519 NumericDate as JWT
// libraries write and read it; golang-jwt truncates fractions on reading
// unless a process-wide setting says otherwise), so the iat alone cannot
// tell a token issued just before a revocation from one issued just after
// it in the same second. The subject entry revokes the whole second
// (revokedBySubject), so a token issued before the revocation is never let
// in, and a token issued after it starts from the next second: its iat and
// nbf are then up to one second ahead of the clock, well inside the
// verifier's 30-second leeway (auth.ClockSkew), and a sign-in right after a
// revocation works at once instead of being refused until it refreshes.
// The alternatives weighed: a fractional iat (valid per RFC 7519 section 2,
// but needing a custom claims codec, and read as a whole second by other
// verifiers of our JWKS), and judging the revocation's own second by the
// token's session (which fails for role changes, whose entry revokes
// tokens and not sessions). A revocation written between this read and
// the signing revokes the new token too, which errs on the safe side.
func (s *Service) issueFrom(ctx context.Context, u store.User) (time.Time, error) {
	at, err := s.st.Revocations.SubjectRevokedAt(ctx, u.TenantID, u.ID)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the subject's revocation: %w", err)
	}
	if at.IsZero() {
		return time.Time{}, nil
	}
	return time.Unix(at.Unix()+1, 0), nil
}

// validTenantArg checks a tenant argument that comes from verified claims.
func validTenantArg(tenant string) error {
	if tenant == "" {
		return &FieldError{Field: "tenant", Reason: "is required"}
	}
	if !auth.ValidTenant(tenant) {
		return &FieldError{Field: "tenant", Reason: "must be 1 to 64 letters, digits, '-' or '_'"}
	}
	return nil
}
