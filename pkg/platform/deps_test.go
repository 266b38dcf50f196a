package platform_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Each service links only the roles it hosts. The budgets are the number of
// packages (standard library included) `go list -deps` reports for the
// service, measured on 2026-12-06 with Go 1.26 after each service got its own
// role wiring, plus a little headroom: families 454, gateway 616, synthesizer
// 531 once the report renderers left pkg/report (before, every service linked
// every role: 615 to 616). The consultant, added on 2026-12-06, links 565:
// the synthesizer's base (store, report model) plus the language model
// client and the secret providers for its API keys. A service that
// grows past its budget has started linking something it may not run: find
// what with `go list -deps ./services/<name>`, and raise the budget only for a
// dependency the service needs, with the new figure and date here. Gateway,
// 2026-12-06: 631 (budget 632) with sony/gobreaker, one package, which the
// webhook dispatcher's circuit breakers use and which comes with pkg/webhook,
// whose SSRF policy the gateway checks registrations against. Gateway,
// 2026-12-06: 636 (budget 640) with the consultant's chat (pkg/consultant,
// consultantrole's provider list and go-openai), which the gateway answers
// (ADR 0033); pkg/progress, one package more, from which it reads an open
// assessment's progress (ADR 0029), stays within it. Gateway and
// consultant, 2026-12-06: 641 (budget 645) and 588 (budget 592) with the
// tenants' language model budgets (pkg/llm/budget, ADR 0036), which both
// count in Redis: the consultant now links pkg/cache and go-redis. Gateway,
// 2026-12-06: 646 (budget 650) with pkg/advisor/span, one package, the range
// wording ("2 instances", not "2-2 instances") the report texts it renders share.
// Every service, 2026-12-06: three packages more (tidwall/gjson and the two
// it uses) for pkg/bus's tenant check, which reads a payload's metadata
// without decoding the rest: gateway 649, a family 462, synthesizer 543,
// consultant 593 (budget 596).
const (
	familyBudget      = 470
	gatewayBudget     = 650
	synthesizerBudget = 545
	consultantBudget  = 596
)

const module = "github.com/infra-mind/infra-mind/"

// Server code a family never runs: the HTTP API and its sign-in, PDF
// reports, TOTP, the secret providers with Vault, the document store and
// the cache, and the synthesizer.
var notInFamilies = []string{
	module + "pkg/gateway", module + "pkg/identity", module + "pkg/secrets", module + "pkg/auth",
	module + "pkg/store", module + "pkg/cache", module + "pkg/synth", module + "pkg/webhook", module + "pkg/report",
	module + "pkg/platform/gatewayrole", module + "pkg/platform/synthrole", module + "pkg/platform/compose",
	"github.com/labstack/echo/v4", "github.com/go-pdf/fpdf", "github.com/pquerna/otp",
	"github.com/hashicorp/vault/api", "go.mongodb.org/mongo-driver", "github.com/redis/go-redis",
	module + "pkg/llm", module + "pkg/consultant", module + "pkg/platform/consultantrole", "github.com/sashabaranov/go-openai",
}

func TestServicesLinkOnlyTheirRoles(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command lists each service's packages")
	_, file, _, _ := runtime.Caller(0)
	services := filepath.Join(filepath.Dir(file), "..", "..", "services")

	tests := []struct {
		name      string
		budget    int
		forbidden []string
	}{
		{name: "strategy", budget: familyBudget, forbidden: notInFamilies},
		{name: "cloud", budget: familyBudget, forbidden: notInFamilies},
		{name: "mlops", budget: familyBudget, forbidden: notInFamilies},
		{name: "compliance", budget: familyBudget, forbidden: notInFamilies},
		{name: "research", budget: familyBudget, forbidden: notInFamilies},
		{name: "simulation", budget: familyBudget, forbidden: notInFamilies},
		{name: "gateway", budget: gatewayBudget, forbidden: []string{
			module + "pkg/worker", module + "pkg/synth",
			module + "pkg/platform/familyrole", module + "pkg/platform/synthrole", module + "pkg/platform/compose",
		}},
		// The synthesizer builds the report model (pkg/report) and renders nothing.
		{name: "synthesizer", budget: synthesizerBudget, forbidden: []string{
			module + "pkg/gateway", module + "pkg/identity", module + "pkg/secrets", module + "pkg/cache",
			module + "pkg/worker", module + "pkg/platform/gatewayrole", module + "pkg/platform/familyrole",
			module + "pkg/platform/compose", module + "pkg/report/render",
			module + "pkg/consultant", module + "pkg/platform/consultantrole", "github.com/sashabaranov/go-openai",
			"github.com/labstack/echo/v4", "github.com/pquerna/otp", "github.com/go-pdf/fpdf",
			"github.com/hashicorp/vault/api", "github.com/redis/go-redis",
		}},
		// The consultant reads reports and its API keys and counts the
		// tenants' language model use in Redis; it serves no HTTP, runs no
		// family or synthesizer and renders nothing.
		{name: "consultant", budget: consultantBudget, forbidden: []string{
			module + "pkg/gateway", module + "pkg/identity", module + "pkg/worker",
			module + "pkg/synth", module + "pkg/webhook", module + "pkg/report/render",
			module + "pkg/platform/gatewayrole", module + "pkg/platform/familyrole", module + "pkg/platform/synthrole",
			module + "pkg/platform/compose",
			"github.com/labstack/echo/v4", "github.com/pquerna/otp", "github.com/go-pdf/fpdf",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(goBin, "list", "-deps", ".")
			cmd.Dir = filepath.Join(services, tt.name)
			out, err := cmd.Output()
			require.NoError(t, err, "go list -deps ./services/%s", tt.name)
			deps := strings.Fields(string(out))
			require.NotEmpty(t, deps)
			for _, f := range tt.forbidden {
				i := slices.IndexFunc(deps, func(d string) bool { return d == f || strings.HasPrefix(d, f+"/") })
				if i >= 0 {
					t.Errorf("%s links %s, code it never runs", tt.name, deps[i])
				}
			}
			require.LessOrEqual(t, len(deps), tt.budget,
				"%s links %d packages, past its budget of %d: see what it started linking", tt.name, len(deps), tt.budget)
		})
	}
}
