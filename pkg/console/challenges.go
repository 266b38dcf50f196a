package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Challenges keeps the first steps of MFA sign-ins, shared by every replica
// so the code may reach another one than the password did. Put keeps b
// under id for ttl; Take returns it and removes it, so a challenge is used
// once (ok is false when it expired, was taken or never was).
type Challenges interface {
	Put(ctx context.Context, id string, b []byte, ttl time.Duration) error
	Take(ctx context.Context, id string) (b []byte, ok bool, err error)
}

// RedisChallenges keeps challenges in Redis under console:mfa:<id>, expiring
// on Redis's clock; Take is one GETDEL, so two replicas cannot both take one.
type RedisChallenges struct {
	rdb redis.Cmdable
}

// NewRedisChallenges returns the challenges kept in rdb.
func NewRedisChallenges(rdb redis.Cmdable) (*RedisChallenges, error) {
	if rdb == nil {
		return nil, errors.New("console: a Redis client is required for the sign-in challenges")
	}
	return &RedisChallenges{rdb: rdb}, nil
}

func challengeKey(id string) string { return "console:mfa:" + id }

// Put keeps b under id for ttl.
func (r *RedisChallenges) Put(ctx context.Context, id string, b []byte, ttl time.Duration) error {
	if err := r.rdb.Set(ctx, challengeKey(id), b, ttl).Err(); err != nil {
		return fmt.Errorf("keep sign-in challenge: %w", err)
	}
	return nil
}

// Take returns and removes the challenge under id.
func (r *RedisChallenges) Take(ctx context.Context, id string) ([]byte, bool, error) {
	b, err := r.rdb.GetDel(ctx, challengeKey(id)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("take sign-in challenge: %w", err)
	}
	return b, true, nil
}
