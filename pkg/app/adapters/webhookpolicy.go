package adapters

import (
	"context"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// WebhookURLPolicy is webhook.Policy as an app.URLPolicy: its refusals read
// as the reason alone, without the sentinel's words.
type WebhookURLPolicy struct {
	Policy webhook.Policy
}

// CheckURL checks raw against the policy.
func (p WebhookURLPolicy) CheckURL(ctx context.Context, raw string) (string, error) {
	u, err := p.Policy.CheckURL(ctx, raw)
	if err != nil {
		return "", &refusal{reason: strings.TrimPrefix(err.Error(), webhook.ErrForbiddenURL.Error()+": "), err: err}
	}
	return u, nil
}

// refusal is a URL refused, reading as the reason and wrapping the policy's error.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.reason }

func (r *refusal) Unwrap() error { return r.err }
