// Package pins keeps the modules that components are being built on in go.mod while no
// component imports them yet, so `go mod tidy` keeps them and their dependency lists.
// Remove an import once a component uses the package.
package pins

import (
	_ "github.com/Jeffail/checkpoint"
	_ "github.com/Jeffail/shutdown"
	_ "github.com/go-resty/resty/v2"
	_ "github.com/google/uuid"
	_ "github.com/r3labs/sse/v2"
	_ "github.com/stretchr/testify/assert"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/text/cases"
	_ "golang.org/x/net/idna"
)
