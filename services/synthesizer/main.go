// Command synthesizer gathers the agent families' results, writes each
// assessment's report and publishes its progress and completion.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/synthrole"
)

func main() {
	os.Exit(platform.Main("synthesizer", platform.ParseEnv(os.Environ()), synthrole.Role()))
}
