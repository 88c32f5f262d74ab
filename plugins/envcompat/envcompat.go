// Package envcompat resolves the ${VARIABLE} references of the pipelines. It reads the process
// environment like Benthos does, and adds the variables that are derived from the settings of the
// Python connectors, so an existing deployment's environment carries over unchanged:
//
//   - HARFANGLAB_SKIP_CERT_VERIFY is the negation of HARFANGLAB_SSL_VERIFY (default true), for the
//     standard `tls.skip_cert_verify` field.
package envcompat

import (
	"context"
	"os"
	"strconv"
	"strings"
)

// Lookup is a service.CLIOptSetEnvVarLookup function.
func Lookup(_ context.Context, key string) (string, bool) {
	if derive, ok := derived[key]; ok {
		return derive(os.LookupEnv)
	}
	return os.LookupEnv(key)
}

var derived = map[string]func(func(string) (string, bool)) (string, bool){
	"HARFANGLAB_SKIP_CERT_VERIFY": negatedBool("HARFANGLAB_SSL_VERIFY", true),
}

// negatedBool derives "true"/"false" as the negation of a boolean variable. An unparsable value
// is passed through with the variable's name, so the start fails with a line naming it.
func negatedBool(source string, def bool) func(func(string) (string, bool)) (string, bool) {
	return func(lookup func(string) (string, bool)) (string, bool) {
		raw, ok := lookup(source)
		raw = strings.TrimSpace(raw)
		if !ok || raw == "" {
			return strconv.FormatBool(!def), true
		}
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return "invalid " + source + " (want true or false): " + strconv.Quote(raw), true
		}
		return strconv.FormatBool(!v), true
	}
}
