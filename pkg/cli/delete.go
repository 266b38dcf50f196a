package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/client"
)

// runDelete erases one assessment through the gateway (the right to
// erasure): `infra-mind delete [flags] ID`.
func runDelete(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("delete", io)
	url := fs.String("url", envOr(io.Env, "IM_GATEWAY_URL", "http://127.0.0.1:8080"), "gateway URL")
	token := tokenFlag(fs, io.Env)
	fs.Usage = func() {
		fmt.Fprint(io.Stderr, "Usage: infra-mind delete [flags] ID\n\n"+
			"Erase an assessment with everything derived from it (its versions and scenarios, results,\n"+
			"report, recommendations, narratives, events and webhook deliveries). It cannot be undone.\n"+
			"Needs the owner or admin role.\n\n")
		fs.PrintDefaults()
	}
	ids, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usageError{errors.New("give exactly one assessment id")}
	}
	if token.v == "" {
		return usageError{errors.New("no token: pass --token or set IM_TOKEN")}
	}
	c, err := client.New(*url, token.v, nil)
	if err != nil {
		return usageError{err}
	}
	if err := c.Delete(ctx, ids[0]); err != nil {
		var p *client.Problem
		if errors.As(err, &p) && p.RetryAfter > 0 {
			return fmt.Errorf("erase %s: %w (retry in %s)", ids[0], err, p.RetryAfter)
		}
		return fmt.Errorf("erase %s: %w", ids[0], err)
	}
	fmt.Fprintf(io.Stdout, "erased assessment %s\n", ids[0])
	return nil
}

// parseArgs parses flags, which may come before or after the positional
// arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}
