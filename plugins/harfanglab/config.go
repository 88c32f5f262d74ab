package harfanglab

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Field names shared by every HarfangLab component.
const (
	hlFieldURL     = "url"
	hlFieldToken   = "token"
	hlFieldTLS     = "tls"
	hlFieldTimeout = "timeout"
)

// ClientFields are the connection fields of every HarfangLab component: url, token (secret),
// tls (standard block, verification on by default) and timeout (default 30s).
func ClientFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewURLField(hlFieldURL).
			Description("HarfangLab base URL, e.g. `https://hl.example.com` (a trailing slash is ignored).").
			Example("https://hl.example.com"),
		service.NewStringField(hlFieldToken).
			Description("HarfangLab API token, sent as `Authorization: Token <token>`. Never logged.").
			Secret(),
		service.NewTLSField(hlFieldTLS),
		service.NewDurationField(hlFieldTimeout).
			Description("Timeout of one HTTP attempt; failed attempts are retried with back-off.").
			Default("30s").
			Advanced(),
	}
}

// ClientConfigFromParsed reads the fields of ClientFields into a ClientConfig and validates them.
func ClientConfigFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (ClientConfig, error) {
	var c ClientConfig
	var err error
	if c.URL, err = conf.FieldString(hlFieldURL); err != nil {
		return c, err
	}
	if _, err := parseBaseURL(c.URL); err != nil {
		return c, err
	}
	if c.Token, err = conf.FieldString(hlFieldToken); err != nil {
		return c, err
	}
	if c.Token == "" {
		return c, fmt.Errorf("field %s: the HarfangLab token is empty", hlFieldToken)
	}
	if c.TLS, err = conf.FieldTLS(hlFieldTLS); err != nil {
		return c, err
	}
	if c.Timeout, err = conf.FieldDuration(hlFieldTimeout); err != nil {
		return c, err
	}
	if mgr != nil {
		c.Logger = mgr.Logger()
		c.Metrics = mgr.Metrics()
	}
	return c, nil
}
