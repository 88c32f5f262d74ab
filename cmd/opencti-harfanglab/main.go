// Command opencti-harfanglab is a Benthos (Redpanda Connect) distribution that keeps an
// OpenCTI platform and a HarfangLab EDR in sync, in both directions.
package main

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	_ "github.com/redpanda-data/connect/v4/public/components/kafka"
	_ "github.com/redpanda-data/connect/v4/public/components/prometheus"
	_ "github.com/redpanda-data/connect/v4/public/components/redis"

	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/detections"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/envcompat"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab/alerts"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti/graphql"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/state"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/stix"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/demo"
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
	)
}
