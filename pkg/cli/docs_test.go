package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/gateway"
)

// The markers around the generated table in docs/security.md.
const (
	matrixStart = "<!-- access-matrix:start (generated from pkg/gateway.AccessMatrix; TestSecurityDocMatchesTheAccessMatrix checks it) -->"
	matrixEnd   = "<!-- access-matrix:end -->"
)

// accessTable renders the gateway's route x role matrix as the user
// documentation shows it: one row per route, one column per role, each cell
// what the gateway's own check (Access.Allows) answers for a caller holding
// only that role.
func accessTable() string {
	callers := []struct{ role, tenant string }{
		{auth.RoleOwner, "acme"}, {auth.RoleAdmin, "acme"}, {auth.RoleAnalyst, "acme"}, {auth.RoleViewer, "acme"},
		{auth.RoleOperator, auth.PlatformTenant},
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	var b strings.Builder
	b.WriteString("| route |")
	for _, c := range callers {
		b.WriteString(" " + c.role + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(callers)) + "\n")
	for _, r := range gateway.AccessMatrix() {
		fmt.Fprintf(&b, "| `%s %s` |", r.Method, param.ReplaceAllString(r.Route, "{$1}"))
		for _, c := range callers {
			cell := "no"
			switch {
			case r.Access.Kind == gateway.AccessPublic:
				cell = "public"
			case r.Access.Allows(&auth.Claims{Tenant: c.tenant, Roles: []string{c.role}}):
				cell = "yes"
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestSecurityDocMatchesTheAccessMatrix keeps the table users read in
// docs/security.md equal to the matrix the gateway enforces.
func TestSecurityDocMatchesTheAccessMatrix(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "security.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), matrixStart+"\n")
	require.True(t, ok, "docs/security.md lacks the line %s", matrixStart)
	table, _, ok := strings.Cut(rest, matrixEnd)
	require.True(t, ok, "docs/security.md lacks the line %s", matrixEnd)
	want := accessTable()
	require.Equal(t, want, table,
		"docs/security.md's route x role table differs from pkg/gateway.AccessMatrix(); put this between its markers:\n%s", want)
}
