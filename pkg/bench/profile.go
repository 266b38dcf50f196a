package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// ProfileSummary is one profile's top-10 table (`go tool pprof -top`;
// block profiles sorted by cumulative time).
type ProfileSummary struct {
	ProfileFile
	Top string
}

// summarise runs `go tool pprof -top -nodecount=10` on each profile. When
// the go command is missing the profiles are still on disk and the
// summary says so.
func summarise(ctx context.Context, files []ProfileFile) ([]ProfileSummary, error) {
	goBin, lookErr := exec.LookPath("go")
	out := make([]ProfileSummary, 0, len(files))
	for _, f := range files {
		s := ProfileSummary{ProfileFile: f}
		if lookErr != nil {
			s.Top = "(no go command to summarise " + f.Path + ")"
		} else {
			args := []string{"tool", "pprof", "-top", "-nodecount=10"}
			if f.Kind == "block" {
				// Waiting shows in a handful of runtime primitives (select,
				// channel receive); sorted by cumulative time the table
				// names the code that waits.
				args = append(args, "-cum")
			}
			cmd := exec.CommandContext(ctx, goBin, append(args, f.Path)...) //nolint:gosec // the go command on a profile this run wrote
			b, err := cmd.CombinedOutput()
			if err != nil {
				s.Top = fmt.Sprintf("(go tool pprof failed: %v)\n%s", err, b)
			} else {
				s.Top = strings.TrimSpace(string(b))
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// profileInProcess records this process's CPU and block profiles for d:
// the embedded deployment runs every service (and the embedded servers,
// and the benchmark's own clients) in this process.
func profileInProcess(ctx context.Context, d time.Duration, dir string) ([]ProfileFile, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	cpuPath := filepath.Join(dir, "all-in-one.cpu.pprof")
	cpu, err := os.Create(cpuPath) //nolint:gosec // a path under the benchmark's own output folder
	if err != nil {
		return nil, err
	}
	defer func() { _ = cpu.Close() }()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return nil, fmt.Errorf("start the CPU profile: %w", err)
	}
	telemetry.RecordBlocking()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	pprof.StopCPUProfile()
	blockPath := filepath.Join(dir, "all-in-one.block.pprof")
	block, err := os.Create(blockPath) //nolint:gosec // as above
	if err != nil {
		return nil, err
	}
	defer func() { _ = block.Close() }()
	err = pprof.Lookup("block").WriteTo(block, 0)
	runtime.SetBlockProfileRate(0)
	if err != nil {
		return nil, fmt.Errorf("write the block profile: %w", err)
	}
	return []ProfileFile{
		{Service: "all-in-one", Kind: "cpu", Path: cpuPath},
		{Service: "all-in-one", Kind: "block", Path: blockPath},
	}, nil
}

// profileOverHTTP fetches CPU and block profiles over d from every
// service's operations listener (IM_PPROF=true), all at once.
func profileOverHTTP(ctx context.Context, d time.Duration, dir string, metrics map[string]string) ([]ProfileFile, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	secs := max(1, int(d.Seconds()))
	var (
		mu    sync.Mutex
		files []ProfileFile
		errs  []string
		wg    sync.WaitGroup
	)
	for svc, addr := range metrics {
		for _, kind := range []string{"cpu", "block"} {
			wg.Go(func() {
				path := filepath.Join(dir, svc+"."+kind+".pprof")
				endpoint := "profile"
				if kind == "block" {
					endpoint = "block"
				}
				url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, endpoint, secs)
				err := download(ctx, url, path)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s %s: %v", svc, kind, err))
					return
				}
				files = append(files, ProfileFile{Service: svc, Kind: kind, Path: path})
			})
		}
	}
	wg.Wait()
	sortProfiles(files)
	if len(errs) > 0 {
		return files, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return files, nil
}

func download(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	f, err := os.Create(path) //nolint:gosec // a path under the benchmark's own output folder
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func sortProfiles(files []ProfileFile) {
	rank := map[string]int{"gateway": -2, "synthesizer": -1}
	slices.SortFunc(files, func(a, b ProfileFile) int {
		return cmp.Or(cmp.Compare(rank[a.Service], rank[b.Service]), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Kind, b.Kind))
	})
}
