// Command cloud runs the cloud agent family: the capacity plan per workload, the provider, region and instance choice, and its cost.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/familyrole"
)

func main() {
	family := familyrole.Role(assessment.FamilyCloud)
	os.Exit(platform.Main("cloud", platform.ParseEnv(os.Environ()), family))
}
