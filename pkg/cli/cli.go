// Package cli is the infra-mind command: `dev` runs the whole system in one
// process on embedded servers, `assess` submits a request to a gateway and
// shows its progress, `delete` erases one, `estimate` sizes a model, `chat`
// talks with the consultant about an assessment, `login` signs a user in,
// `operator create` makes a platform operator, `token` and `keygen` manage
// development credentials, and `catalogue` imports price data and compares
// catalogue versions.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Env looks up an environment variable; main passes os.LookupEnv.
type Env func(string) (string, bool)

// IO is where commands read and write.
type IO struct {
	// Stdin is read by `login` for the password when IM_PASSWORD is unset;
	// nil reads nothing.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Env    Env
	// Environ lists the whole environment (KEY=value); main passes
	// os.Environ. `dev` reads the consultant's numbered provider list
	// (IM_LLM_PROVIDER_<n>_*) and IM_SECRET_* from it; nil reads none.
	Environ func() []string
}

const usage = `infra-mind: infrastructure advice for AI workloads

Usage:
  infra-mind dev      [flags]          run everything in one process on embedded servers
  infra-mind assess   -f request.yaml  submit an assessment to a gateway and follow it
  infra-mind delete   ID               erase an assessment and everything derived from it (owner or admin)
  infra-mind estimate inference|training [flags]  size a model in one call, without an assessment
  infra-mind chat     [flags] <assessment-id>  ask the consultant about an assessment, answers streamed
  infra-mind login    --tenant T --email E  sign in (password from $IM_PASSWORD or stdin), print the access token
  infra-mind operator create --email E  create a platform operator in the store (password printed once)
  infra-mind token    [flags]          print a development bearer token signed with the local key
  infra-mind keygen   --dir DIR        create a signing key pair and a TOTP key set
  infra-mind catalogue import|diff|versions  import public price data, compare catalogue versions
  infra-mind bench    [flags]          measure latency, throughput and growth against the infrastructure's bound (make bench)

Run "infra-mind <command> -h" for a command's flags.
`

// Run executes the command in args (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 {
		fmt.Fprint(io.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], io)
	case "assess":
		err = runAssess(ctx, args[1:], io)
	case "delete":
		err = runDelete(ctx, args[1:], io)
	case "estimate":
		err = runEstimate(ctx, args[1:], io)
	case "chat":
		err = runChat(ctx, args[1:], io)
	case "login":
		err = runLogin(ctx, args[1:], io)
	case "operator":
		err = runOperator(ctx, args[1:], io)
	case "token":
		err = runToken(args[1:], io)
	case "keygen":
		err = runKeygen(args[1:], io)
	case "catalogue":
		err = runCatalogue(args[1:], io)
	case "bench":
		err = runBench(ctx, args[1:], io)
	case "help", "-h", "--help":
		fmt.Fprint(io.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(io.Stderr, "infra-mind: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(io.Stderr, "infra-mind %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(io.Stderr, "infra-mind %s: %v\n", args[0], err)
		return 1
	}
}

// usageError marks a mistake in the command line (exit code 2).
type usageError struct{ error }

func newFlagSet(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("infra-mind "+name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

// envOr returns the variable's value or def.
func envOr(e Env, key, def string) string {
	if e != nil {
		if v, ok := e(key); ok && v != "" {
			return v
		}
	}
	return def
}

func envDuration(e Env, key string, def time.Duration) (time.Duration, error) {
	v := envOr(e, key, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

// secretFlag is a credential flag whose value, which may come from the
// environment, is never shown as its default in -h output.
type secretFlag struct{ v string }

// String is empty so that flag's usage output shows no default.
func (s *secretFlag) String() string { return "" }

// Set takes the value given on the command line.
func (s *secretFlag) Set(v string) error { s.v = v; return nil }

// tokenFlag defines --token, defaulting to $IM_TOKEN.
func tokenFlag(fs *flag.FlagSet, e Env) *secretFlag {
	s := &secretFlag{v: envOr(e, "IM_TOKEN", "")}
	fs.Var(s, "token", "bearer `token`: an access token from infra-mind login, or an API key imk_... (default $IM_TOKEN)")
	return s
}
