package gateway

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/identity"
)

// The identity service's conflicts reach the user as 409 problems whose
// detail is the conflict's own words, read from the error's fields.
func TestIdentityConflictsMapToProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		detail string
	}{
		{name: "typed conflict, wrapped by the caller",
			err:    fmt.Errorf("create user: %w", &identity.ConflictError{Op: "create user", Detail: "email a@b.example is taken in tenant acme"}),
			detail: "Email a@b.example is taken in tenant acme."},
		{name: "a detail with a colon in it stays whole",
			err:    &identity.ConflictError{Op: "create tenant", Detail: "acme: looks like the existing tenant ACME"},
			detail: "Acme: looks like the existing tenant ACME."},
		{name: "the bare sentinel",
			err:    fmt.Errorf("update user: %w", identity.ErrConflict),
			detail: "The resource already exists or the change would leave the tenant without an owner."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := toProblem(tc.err)
			require.Equal(t, http.StatusConflict, p.Status)
			require.Equal(t, ProblemConflict, p.Type)
			require.Equal(t, tc.detail, p.Detail)
		})
	}
}
