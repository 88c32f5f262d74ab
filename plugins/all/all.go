// Package all registers every component of the distribution: the Benthos core ones we ship,
// the connect ones (Kafka, Redis, Prometheus) and ours. The binary, the demo and the tests
// import it, so they all see the same set.
package all

import (
	// Registration only: each package registers its components in init.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	_ "github.com/redpanda-data/connect/v4/public/components/kafka"
	_ "github.com/redpanda-data/connect/v4/public/components/prometheus"
	_ "github.com/redpanda-data/connect/v4/public/components/redis"

	// Ours.
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/detections"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/statefile"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/stix"
)
