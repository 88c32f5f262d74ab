package opencti

import "github.com/redpanda-data/benthos/v4/public/service"

// Connection fields shared by every OpenCTI component (the input and the output).
const (
	octiFieldURL     = "url"
	octiFieldToken   = "token"
	octiFieldTLS     = "tls"
	octiFieldTimeout = "timeout"
)

// connectionFields declares the OpenCTI connection once for every component. Only the timeout
// differs by role, so it is the caller's: the stream input bounds the connect and response
// headers (the stream itself is endless), the output one GraphQL request (a bundle import may
// take long on a loaded platform).
func connectionFields(timeout *service.ConfigField) []*service.ConfigField {
	return []*service.ConfigField{
		service.NewURLField(octiFieldURL).
			Description("Base URL of the OpenCTI platform (`/graphql` and `/stream` are appended).").
			Example("https://opencti.example.com"),
		service.NewStringField(octiFieldToken).
			Description("OpenCTI API token, sent as `Authorization: Bearer <token>`. Never logged.").
			Secret(),
		// Always applied, as in every component: a root_cas_file or skip_cert_verify set without
		// `enabled: true` must not be silently ignored.
		service.NewTLSField(octiFieldTLS),
		timeout,
	}
}
