// Command infra-mind is Infra Mind's command line: `infra-mind dev` runs the
// whole system in one process on embedded servers (what `make run` does),
// `assess` submits a request to a gateway and follows it, `login` signs a
// user in, `operator create` makes a platform operator, and `token` and
// `keygen` manage development credentials.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/infra-mind/infra-mind/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Env: os.LookupEnv, Environ: os.Environ})
	stop()
	os.Exit(code)
}
