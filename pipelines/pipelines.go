// Package pipelines embeds the YAML pipelines shipped with the binary, so the `demo` command
// and the tests run exactly the files users run.
package pipelines

import _ "embed"

// Stream files (input, pipeline, output) and the shared root files.
var (
	//go:embed opencti-to-harfanglab.yaml
	OpenCTIToHarfangLab string
	//go:embed harfanglab-to-opencti.yaml
	HarfangLabToOpenCTI string
	//go:embed observability.yaml
	Observability string
	//go:embed resources.yaml
	Resources string
)
