// Command opencti-harfanglab is a Benthos (Redpanda Connect) distribution that keeps an
// OpenCTI platform and a HarfangLab EDR in sync, in both directions.
package main

import (
	"context"

	// Sets GOMEMLIMIT to 90 % of the container's (cgroup v1 or v2) memory limit at start, unless
	// GOMEMLIMIT is set; AUTOMEMLIMIT=<ratio> or off tunes it. See README "Memory".
	_ "github.com/KimMachineGun/automemlimit"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/check"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/demo"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/all"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/envcompat"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

func main() {
	service.RunCLI(context.Background(),
		service.CLIOptSetVersion(Version, ""),
		service.CLIOptSetBinaryName("opencti-harfanglab"),
		service.CLIOptSetProductName("opencti-harfanglab"),
		service.CLIOptSetEnvVarLookup(envcompat.Lookup),
		service.CLIOptAddCommand(demo.Command()),
		service.CLIOptAddCommand(check.Command()),
	)
}
