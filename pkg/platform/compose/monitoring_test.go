package compose_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
)

// chartFile is a file of charts/infra-mind.
func chartFile(t *testing.T, parts ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", "..", "charts", "infra-mind"}, parts...)...)
}

// monitoringQueries are the PromQL expressions of the chart's dashboards and
// alerts, by where they come from.
func monitoringQueries(t *testing.T) map[string]string {
	t.Helper()
	queries := map[string]string{}
	dashboards, err := filepath.Glob(chartFile(t, "dashboards", "*.json"))
	require.NoError(t, err)
	require.Len(t, dashboards, 2, "the pipeline overview and the per-family dashboard")
	for _, path := range dashboards {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(raw, &d), path)
		require.NotEmpty(t, d.Panels, path)
		for _, p := range d.Panels {
			require.NotEmpty(t, p.Targets, "%s: panel %q has no query", path, p.Title)
			for i, target := range p.Targets {
				queries[filepath.Base(path)+": "+p.Title+": "+string(rune('A'+i))] = target.Expr
			}
		}
	}
	raw, err := os.ReadFile(chartFile(t, "files", "alerts.yaml"))
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			queries["alert "+r.Alert] = r.Expr
		}
	}
	return queries
}

// metricName matches the names of the series the services export (Infra
// Mind's own, and the Go and process collectors every service registers).
var metricName = regexp.MustCompile(`\b(?:inframind|process|go)_[a-z0-9_]+\b`)

// Every metric a dashboard panel or an alert queries is one the services
// really serve on /metrics: the whole pipeline runs an assessment that ends
// partial (the research family is not running), so the partial, dead-letter
// free, backlog and latency series all exist, and the test reads the
// operations listener as Prometheus would.
func TestDashboardsAndAlertsQueryServedMetrics(t *testing.T) {
	var families []assessment.Family
	for _, f := range assessment.Families() {
		if f != assessment.FamilyResearch {
			families = append(families, f)
		}
	}
	sys := startSystem(t, compose.Roles{Gateway: true, Synthesizer: true, Families: families}, 2*time.Second)
	acc, err := sys.client.Submit(context.Background(), example(t, "startup-rag.yaml"), "application/yaml")
	require.NoError(t, err)
	_, completed := follow(t, sys.client, acc.ID)
	require.Equal(t, "partial", completed["status"])

	served := map[string]bool{}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := http.Get(sys.metrics + "/metrics")
		require.NoError(c, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		require.NoError(c, err)
		for _, line := range strings.Split(string(body), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			served[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
		}
		assert.True(c, served[`inframind_assessments_finished_total`])
	}, 10*time.Second, 100*time.Millisecond)
	for _, want := range []string{"inframind_consumer_pending_messages", "inframind_consumer_ack_pending_messages", "inframind_handler_duration_seconds_bucket"} {
		require.True(t, served[want], "%s is served", want)
	}

	for where, expr := range monitoringQueries(t) {
		names := metricName.FindAllString(expr, -1)
		require.NotEmpty(t, names, "%s queries none of the services' metrics: %s", where, expr)
		for _, n := range names {
			require.True(t, served[n], "%s queries %s, which the services do not serve", where, n)
		}
	}
}
