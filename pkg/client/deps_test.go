package client

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientLinksNoServerCode keeps the client light for the CLI, the
// end-to-end tests and outside users: of this repository it may link only
// the generated API types, and none of the servers' libraries (HTTP server,
// broker, database, PDF, secrets). A new import of a server package (the
// gateway, the store, the bus, the report engine...) fails here.
func TestClientLinksNoServerCode(t *testing.T) {
	t.Parallel()
	const module = "github.com/infra-mind/infra-mind/pkg/"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	require.NoError(t, err, "go list -deps: %s", out)
	deps := strings.Fields(string(out))

	allowed := map[string]bool{module + "api": true, module + "client": true}
	serverLibs := []string{
		"github.com/labstack/echo", "github.com/nats-io/", "go.mongodb.org/", "github.com/redis/",
		"github.com/go-pdf/", "github.com/hashicorp/vault", "github.com/FerretDB/", "google.golang.org/protobuf",
	}
	for _, d := range deps {
		if strings.HasPrefix(d, module) {
			require.Truef(t, allowed[d], "pkg/client depends on %s: only pkg/api may be linked from this repository", d)
		}
		for _, lib := range serverLibs {
			require.Falsef(t, strings.HasPrefix(d, lib), "pkg/client depends on %s, a server library", d)
		}
	}
	require.Contains(t, deps, module+"api", "the client speaks in the generated API types")
}
