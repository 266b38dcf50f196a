// Command consultant writes each finished assessment's executive narrative
// with the configured language model providers, checks every number in it
// against the report, stores it and announces it. With no provider
// configured it starts, says so and consumes nothing. Configuration comes
// from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/caarlos0/env/v11"

	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/consultantrole"
	"github.com/infra-mind/infra-mind/pkg/platform/secretsource"
)

func main() {
	// The environment provider of secrets reads IM_SECRET_<NAME> from here.
	load := secretsource.LoadWithSecretEnv(env.ParseAs[platform.Config], os.Environ())
	os.Exit(platform.Main("consultant", load, consultantrole.Role()))
}
