// Command compliance runs the compliance agent family: applicable regimes, their controls, residency constraints and gaps.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/familyrole"
)

func main() {
	family := familyrole.Role(assessment.FamilyCompliance)
	os.Exit(platform.Main("compliance", platform.ParseEnv(os.Environ()), family))
}
