package cli_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCatalogueDiffShowsPriceMovesAndAddedRegions(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, context.Background(), nil, "catalogue", "diff", "2026-12-06.1", "2026-12-06.2")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "catalogue 2026-12-06.1 -> 2026-12-06.2:")
	require.Contains(t, out, "gcp a3-highgpu-8g in us-central1: 88.49 -> 43.06615 (-51.3%)")
	require.Contains(t, out, "aws g5.xlarge in eu-west-1 (1 x a10g): 1.123/h")

	code, out, errOut = run(t, context.Background(), nil, "catalogue", "diff", "2026-12-06.1", "2026-12-06.2", "--json")
	require.Equal(t, 0, code, errOut)
	var d struct {
		Moved []struct {
			Name   string  `json:"name"`
			Region string  `json:"region"`
			To     float64 `json:"on_demand_hourly_to"`
		} `json:"moved"`
		Added []json.RawMessage `json:"added"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	require.NotEmpty(t, d.Moved)
	require.NotEmpty(t, d.Added)
}

func TestCatalogueDiffNeedsKnownVersions(t *testing.T) {
	t.Parallel()
	code, _, errOut := run(t, context.Background(), nil, "catalogue", "diff", "2026-12-06.1")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "give two catalogue versions")
	code, _, errOut = run(t, context.Background(), nil, "catalogue", "diff", "2026-12-06.1", "1999-01-01.1")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `no catalogue version "1999-01-01.1" (this build holds 2026-12-06.1, 2026-12-06.2, 2026-12-06.3, 2026-12-06.4, 2026-12-06.5, 2026-12-06.6, 2026-12-06.7, 2026-12-06.8)`)
}

func TestCatalogueVersionsCountsRows(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, context.Background(), nil, "catalogue", "versions")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "2026-12-06.1: 29 instance rows, 29 instance types (0 CPU) in 4 regions, 9 GPU models (curated rows only)")
	require.Contains(t, out, "2026-12-06.2: ")
	require.Contains(t, out, "skypilot-org/skypilot-catalog@00148f2af367 retrieved 2026-12-06")
	// The Azure source publishes one file per region: it is named once per version, with the count.
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "2026-12-06.6: ") {
			require.Equal(t, 1, strings.Count(line, "azure-pricing-radar"), line)
			require.Contains(t, line, "azure andy-diericks/azure-pricing-radar@cf741f25c507 retrieved 2026-12-06 (5 files)")
		}
	}
	require.Contains(t, out, "2026-12-06.6: ")
}

// copyTree copies the catalogue package folder so an import can write into it.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	}))
}

// An import of new price data writes a new version and keeps the previous one as history.
func TestCatalogueImportWritesANewVersionAndKeepsTheOld(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	dir := t.TempDir()
	catDir := filepath.Join(dir, "catalog")
	copyTree(t, filepath.Join(root, "pkg", "advisor", "catalog"), catDir)
	from := filepath.Join(catDir, "pricing")

	// The committed data imports to the committed version: nothing new.
	code, out, errOut := run(t, context.Background(), nil, "catalogue", "import", "--from", from, "--catalogue", catDir)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "catalogue 2026-12-06.8: ")
	require.NoDirExists(t, filepath.Join(catDir, "data", "history", "2026-12-06.8"))
	before, err := os.ReadFile(filepath.Join(catDir, "data", "instances", "gcp.yaml"))
	require.NoError(t, err)

	// A newer extract: g5.xlarge in eu-west-1 up by 10 cents, under a new version.
	csvPath := filepath.Join(from, "skypilot-catalog", "aws", "vms.csv")
	csv, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(csvPath, []byte(strings.ReplaceAll(string(csv), "1.123,0.57", "1.223,0.57")), 0o644))
	manifest := filepath.Join(from, "source.yaml")
	b, err := os.ReadFile(manifest)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(manifest, []byte(strings.Replace(string(b), `catalogue_version: "2026-12-06.8"`, `catalogue_version: "2026-12-07.1"`, 1)), 0o644))

	code, out, errOut = run(t, context.Background(), nil, "catalogue", "import", "--from", from, "--catalogue", catDir)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "catalogue 2026-12-07.1: ")
	for _, p := range []string{"aws", "aws-cpu", "azure", "azure-cpu", "gcp", "gcp-cpu"} {
		require.FileExists(t, filepath.Join(catDir, "data", "history", "2026-12-06.8", p+".yaml"), "the previous version is kept")
	}
	kept, err := os.ReadFile(filepath.Join(catDir, "data", "history", "2026-12-06.8", "gcp.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(before), string(kept), "the previous version's files move to the history as they were")
	meta, err := os.ReadFile(filepath.Join(catDir, "data", "catalog.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(meta), `version: "2026-12-07.1"`)
	cur, err := os.ReadFile(filepath.Join(catDir, "data", "instances", "aws.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(cur), "on_demand_hourly: 1.223\n  price_region: eu-west-1")

	// Bad price data is refused before anything is written.
	require.NoError(t, os.WriteFile(csvPath, []byte(strings.Replace(string(csv), "InstanceType,", "Instance,", 1)), 0o644))
	code, _, errOut = run(t, context.Background(), nil, "catalogue", "import", "--from", from, "--catalogue", catDir)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no InstanceType column")
	after, err := os.ReadFile(filepath.Join(catDir, "data", "instances", "aws.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(cur), string(after))
}
