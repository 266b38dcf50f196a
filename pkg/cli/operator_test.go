package cli_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
)

var printedPassword = regexp.MustCompile(`password: (\S+)`)

func TestOperatorCreateMakesAnOperatorWhoCanSignIn(t *testing.T) {
	g := startPlatform(t)
	ctx := context.Background()
	storeEnv := map[string]string{
		"IM_MONGO_URI": g.Stack.MongoURI, "IM_MONGO_DATABASE": testDatabase, "IM_REDIS_URL": g.Stack.RedisURL,
	}

	code, out, errOut := run(t, ctx, storeEnv, "operator", "create", "--email", "Ops@Example.com", "--name", "Ops")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "created platform operator ops@example.com")
	require.Contains(t, out, "tenant:   "+auth.PlatformTenant)
	m := printedPassword.FindStringSubmatch(out)
	require.Len(t, m, 2, out)

	// The printed password signs the operator in through the gateway, to
	// the platform tenant with the operator role...
	code, out, errOut = run(t, ctx, map[string]string{"IM_GATEWAY_URL": g.URL, "IM_PASSWORD": m[1]},
		"login", "--tenant", auth.PlatformTenant, "--email", "ops@example.com")
	require.Equal(t, 0, code, errOut)
	token := strings.TrimSpace(out)
	cl := g.verify(t, token)
	require.Equal(t, auth.PlatformTenant, cl.Tenant)
	require.Equal(t, []string{auth.RoleOperator}, cl.Roles)

	// ... which reaches no tenant's routes.
	code, _, errOut = run(t, ctx, map[string]string{"IM_GATEWAY_URL": g.URL, "IM_TOKEN": token}, estimateArgs...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "403")

	t.Run("the same email again is refused, the password stays unknown", func(t *testing.T) {
		code, out, errOut := run(t, ctx, storeEnv, "operator", "create", "--email", "ops@example.com")
		require.Equal(t, 1, code)
		require.Empty(t, out)
		require.Contains(t, errOut, "a platform operator with email ops@example.com exists")
	})

	t.Run("flags instead of the environment", func(t *testing.T) {
		code, out, errOut := run(t, ctx, nil, "operator", "create", "--email", "ops2@example.com",
			"--mongo-uri", g.Stack.MongoURI, "--mongo-database", testDatabase, "--redis-url", g.Stack.RedisURL)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "created platform operator ops2@example.com")
		// A password that is generated is a new one every time.
		m2 := printedPassword.FindStringSubmatch(out)
		require.Len(t, m2, 2, out)
		require.NotEqual(t, m[1], m2[1])
	})

	t.Run("a malformed email names the flag", func(t *testing.T) {
		code, _, errOut := run(t, ctx, storeEnv, "operator", "create", "--email", "not-an-address")
		require.Equal(t, 2, code)
		require.Contains(t, errOut, "--email must be an email address")
	})
}
