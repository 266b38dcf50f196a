//go:build integration

package report_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/report/render"
)

// The PDF must open in a real reader: poppler's pdftoppm renders its pages to
// PNG images. A machine without pdftoppm fails this test (install
// poppler-utils), so a missing tool never passes silently.
func TestIntegrationPDFRendersToImages(t *testing.T) {
	tool, err := exec.LookPath("pdftoppm")
	require.NoError(t, err, "pdftoppm is missing: install poppler-utils (apt-get install -y poppler-utils)")
	m := model(t, storedReport(t, "chatbot-70b-hipaa-us.yaml"))
	pdf, err := render.PDF(m)
	require.NoError(t, err)
	dir := t.TempDir()
	in := filepath.Join(dir, "report.pdf")
	require.NoError(t, os.WriteFile(in, pdf, 0o600))
	out, err := exec.Command(tool, "-png", "-r", "30", in, filepath.Join(dir, "page")).CombinedOutput()
	require.NoError(t, err, "pdftoppm: %s", out)
	pages, err := filepath.Glob(filepath.Join(dir, "page*.png"))
	require.NoError(t, err)
	require.NotEmpty(t, pages, "pdftoppm produced no page")
	info, err := os.Stat(pages[0])
	require.NoError(t, err)
	require.Positive(t, info.Size())
}
