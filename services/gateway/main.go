// Command gateway is Infra Mind's public HTTP API: assessments, reports and
// live progress over Server-Sent Events. Configuration comes from the
// environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/gatewayrole"
)

func main() {
	// The environment provider of secrets reads IM_SECRET_<NAME> from here.
	load := gatewayrole.LoadWithSecretEnv(platform.ParseEnv(os.Environ()), os.Environ())
	os.Exit(platform.Main("gateway", load, gatewayrole.Role()))
}
