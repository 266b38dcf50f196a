package client

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientLinksNoServerCode keeps the client light for the CLI, the
// end-to-end tests and outside users. It is an allow list: besides the
// standard library, the client may link the generated API types of this
// repository and the few small libraries named here (with what they link).
// A new import of a server package (the gateway, the store, the bus, the
// report engine...) or of any library not named fails here, whether the
// client imports it or something it imports does; adding one to the list is
// a decision a reviewer sees.
func TestClientLinksNoServerCode(t *testing.T) {
	t.Parallel()
	const module = "github.com/infra-mind/infra-mind/pkg/"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	require.NoError(t, err, "go list -deps: %s", out)
	deps := strings.Fields(string(out))

	allowed := map[string]bool{module + "api": true, module + "client": true}
	// Modules the client may link, with every package under them.
	allowedModules := []string{
		"github.com/sethvargo/go-retry",   // retries with backoff
		"github.com/tmaxmax/go-sse",       // the event stream's parser
		"github.com/oapi-codegen/runtime", // pkg/api's one oneOf union
		"github.com/apapsch/go-jsonmerge", // linked by the oapi-codegen runtime
		"github.com/google/uuid",          // linked by the oapi-codegen runtime
	}
	for _, d := range deps {
		if strings.HasPrefix(d, module) {
			require.Truef(t, allowed[d], "pkg/client depends on %s: only pkg/api may be linked from this repository", d)
			continue
		}
		ok := false
		for _, m := range allowedModules {
			ok = ok || d == m || strings.HasPrefix(d, m+"/")
		}
		require.Truef(t, ok, "pkg/client depends on %s, which is not on its allow list", d)
	}
	require.Contains(t, deps, module+"api", "the client speaks in the generated API types")
}
