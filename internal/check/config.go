package check

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Config is what the pipelines read from the environment, as far as the probes need it. The
// names and defaults are those of pipelines/*.yaml.
type Config struct {
	OpenCTIURL, OpenCTIToken string
	ConnectorID              string
	StreamID                 string
	ListenDelete             string
	NoDependencies           string

	HarfangLabURL, HarfangLabToken string
	SkipVerify                     bool
	SourceList                     string
	Statuses, AlertTypes           []string
	AlertMaturities                []string
	Threats                        bool
	Maturity                       string

	// problems are settings that are missing or unreadable, each naming its variable.
	problems []string
}

// ConfigFromEnv reads the pipelines' variables through lookup (os.LookupEnv in the binary).
func ConfigFromEnv(lookup func(string) (string, bool)) Config {
	get := func(k, def string) string {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	c := Config{
		OpenCTIURL: get("OPENCTI_URL", ""), OpenCTIToken: get("OPENCTI_TOKEN", ""),
		ConnectorID:     get("CONNECTOR_ID", ""),
		StreamID:        get("CONNECTOR_LIVE_STREAM_ID", "live"),
		ListenDelete:    get("CONNECTOR_LIVE_STREAM_LISTEN_DELETE", "true"),
		NoDependencies:  get("CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES", "false"),
		HarfangLabURL:   get("HARFANGLAB_URL", ""),
		HarfangLabToken: get("HARFANGLAB_TOKEN", ""),
		SourceList:      get("HARFANGLAB_SOURCE_LIST_NAME", "from_OpenCTI"),
		Statuses:        splitList(get("HARFANGLAB_IMPORT_SECURITY_EVENTS_FILTERS_BY_STATUS", "new,investigating")),
		AlertTypes:      splitList(get("HARFANGLAB_IMPORT_FILTERS_BY_ALERT_TYPE", "yara,sigma,ioc")),
		Maturity:        get("HARFANGLAB_RULE_MATURITY", "stable"),
		AlertMaturities: splitList(get("HARFANGLAB_IMPORT_FILTERS_BY_MATURITY", "stable")),
	}
	for _, k := range []string{"OPENCTI_URL", "OPENCTI_TOKEN", "HARFANGLAB_URL", "HARFANGLAB_TOKEN"} {
		if get(k, "") == "" {
			c.problems = append(c.problems, k+" is not set")
		}
	}
	for k, v := range map[string]string{"OPENCTI_URL": c.OpenCTIURL, "HARFANGLAB_URL": c.HarfangLabURL} {
		if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			c.problems = append(c.problems, k+" is not an http(s)://host URL")
		}
	}
	verify, err := strconv.ParseBool(get("HARFANGLAB_SSL_VERIFY", "true"))
	if err != nil {
		c.problems = append(c.problems, "HARFANGLAB_SSL_VERIFY is not true or false")
	}
	c.SkipVerify = err == nil && !verify
	threats, err := strconv.ParseBool(get("HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS", "true"))
	if err != nil {
		c.problems = append(c.problems, "HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS is not true or false")
	}
	c.Threats = err != nil || threats
	if c.Maturity != "stable" && c.Maturity != "testing" {
		c.problems = append(c.problems, "HARFANGLAB_RULE_MATURITY is neither stable nor testing")
	}
	return c
}

// connectorIDProblem says what is wrong with CONNECTOR_ID, which only the detections pull needs.
func (c Config) connectorIDProblem() string {
	if c.ConnectorID == "" {
		return "CONNECTOR_ID is not set"
	}
	if _, err := uuid.Parse(c.ConnectorID); err != nil {
		return "CONNECTOR_ID is not a UUID"
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// displayURL shows a URL without credentials, query or fragment.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
