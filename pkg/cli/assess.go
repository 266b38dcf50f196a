package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/client"
)

func runAssess(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("assess", io)
	file := fs.String("f", "", "assessment request file (YAML or JSON)")
	url := fs.String("url", envOr(io.Env, "IM_GATEWAY_URL", "http://127.0.0.1:8080"), "gateway URL")
	token := tokenFlag(fs, io.Env)
	out := fs.String("out", "", "write the finished report (JSON) to this file")
	wait := fs.Bool("wait", true, "follow progress until the assessment ends")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError{errors.New("-f is required")}
	}
	if token.v == "" {
		return usageError{errors.New("no token: pass --token or set IM_TOKEN")}
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	c, err := client.New(*url, token.v, nil)
	if err != nil {
		return usageError{err}
	}
	_, status, err := submitAndFollow(ctx, c, body, contentTypeOf(*file), *wait, func(string) string { return *out }, io.Stdout)
	if err != nil {
		return err
	}
	if status == "failed" {
		return errors.New("the assessment failed")
	}
	return nil
}

func contentTypeOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "application/json"
	default:
		return "application/yaml"
	}
}

// val is what p points to, or T's zero value for an absent (nil) field.
func val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// submitAndFollow submits body, prints progress as it arrives and, when the
// assessment ends, saves the report to outFor(id) (if not empty). It returns
// the assessment id and its final status.
func submitAndFollow(ctx context.Context, c *client.Client, body []byte, contentType string, wait bool, outFor func(id string) string, w io.Writer) (string, string, error) {
	acc, err := c.Submit(ctx, body, contentType)
	if err != nil {
		return "", "", fmt.Errorf("submit: %w", err)
	}
	fmt.Fprintf(w, "submitted assessment %s (%s)\n", acc.ID, acc.Status)
	if !wait {
		return acc.ID, string(acc.Status), nil
	}
	final := ""
	seen := map[string]bool{}
	err = c.Events(ctx, acc.ID, 0, func(e client.Event) error {
		if e.Type == "completed" {
			var c api.CompletedEvent
			if err := json.Unmarshal(e.Data, &c); err != nil {
				return fmt.Errorf("decode event %d: %w", e.ID, err)
			}
			final = string(val(c.Status))
			fmt.Fprintf(w, "assessment %s: %s\n", acc.ID, final)
			if missing := val(c.MissingFamilies); len(missing) > 0 {
				fmt.Fprintf(w, "  missing: %s\n", strings.Join(missing, ", "))
			}
			if reason := val(c.Reason); reason != "" {
				fmt.Fprintf(w, "  reason: %s\n", reason)
			}
			return nil
		}
		var s api.StatusEvent
		if err := json.Unmarshal(e.Data, &s); err != nil {
			return fmt.Errorf("decode event %d: %w", e.ID, err)
		}
		switch family := val(s.Family); {
		case family != "":
			// Families finish concurrently, so each event's own count is a
			// snapshot; the families seen so far are the progress to show.
			seen[family] = true
			fmt.Fprintf(w, "  [%d/%d] %s\n", len(seen), val(s.TotalFamilies), val(s.Message))
		default:
			fmt.Fprintf(w, "  %s\n", val(s.Status))
		}
		return nil
	})
	if err != nil {
		return acc.ID, "", fmt.Errorf("follow progress: %w", err)
	}
	fmt.Fprintf(w, "report: %s\n", acc.ReportURL)
	if out := outFor(acc.ID); out != "" {
		rep, err := c.ReportJSON(ctx, acc.ID)
		if err != nil {
			return acc.ID, final, fmt.Errorf("fetch report: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
			return acc.ID, final, fmt.Errorf("create report folder: %w", err)
		}
		if err := os.WriteFile(out, rep, 0o600); err != nil {
			return acc.ID, final, fmt.Errorf("save report: %w", err)
		}
		fmt.Fprintf(w, "report saved to %s\n", out)
	}
	return acc.ID, final, nil
}
