package check

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
)

// Capabilities the connector user needs (reference opencti-stream-and-api.md §1.2, §3):
// CONNECTORAPI for registerConnector/ping/works/stixBundlePush, KNOWLEDGE_KNUPDATE for the
// objects the pushed bundles create, and BYPASS to read the raw `live` stream (a stream
// collection needs TAXIIAPI instead). BYPASS grants everything.
const (
	capBypass    = "BYPASS"
	capConnector = "CONNECTORAPI"
	capUpdate    = "KNOWLEDGE_KNUPDATE"
	capTaxii     = "TAXIIAPI"
)

// Supported OpenCTI versions: 6.5.7 is the floor of stixBundlePush(work_id) and the optional
// registerConnector fields (opencti-server-evidence.md §1); 7.x keeps the same signatures. 8.x
// is unknown.
var minOpenCTI = [3]int{6, 5, 7}

const maxOpenCTIMajor = 7

// probeOpenCTI runs the OpenCTI probes.
func probeOpenCTI(ctx context.Context, rep *Report, cfg Config, timeout time.Duration) {
	if cfg.OpenCTIURL == "" || cfg.OpenCTIToken == "" {
		for _, p := range []string{"opencti.token", "opencti.capabilities", "opencti.stream"} {
			rep.add(p, true, CannotTell, "OPENCTI_URL or OPENCTI_TOKEN is not set")
		}
		return
	}
	cl, err := opencti.NewClient(opencti.ClientConfig{URL: cfg.OpenCTIURL, Token: cfg.OpenCTIToken, Timeout: timeout, MaxRetries: 1})
	if err != nil {
		rep.add("opencti.token", true, CannotTell, "%v", err)
		return
	}
	caps, tokenOK := probeMe(ctx, rep, cl)
	if tokenOK {
		probeCapabilities(rep, cfg, caps)
	} else {
		rep.add("opencti.capabilities", true, CannotTell, "the token was not accepted")
	}
	probeOpenCTIVersion(ctx, rep, cl)
	probeStream(ctx, rep, cfg, timeout)
}

// probeMe asks who the token is and what it may do.
func probeMe(ctx context.Context, rep *Report, cl *opencti.Client) (map[string]bool, bool) {
	var me struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		Capabilities []struct {
			Name string `json:"name"`
		} `json:"capabilities"`
	}
	err := cl.Do(ctx, "me", `query CheckMe { me { id name capabilities { name } } }`, nil, &me)
	if err != nil {
		if opencti.IsAuth(err) {
			rep.add("opencti.token", true, Differs, "%v", err)
		} else {
			rep.add("opencti.token", true, CannotTell, "%v", err)
		}
		return nil, false
	}
	caps := map[string]bool{}
	for _, c := range me.Capabilities {
		caps[c.Name] = true
	}
	rep.add("opencti.token", true, OK, "accepted: user %q", me.Name)
	return caps, true
}

func probeCapabilities(rep *Report, cfg Config, caps map[string]bool) {
	names := make([]string, 0, len(caps))
	for c := range caps {
		names = append(names, c)
	}
	sort.Strings(names)
	has := strings.Join(names, ", ")
	if caps[capBypass] {
		rep.add("opencti.capabilities", true, OK, "%s grants every right (user has: %s)", capBypass, has)
		return
	}
	var missing []string
	for _, c := range []string{capConnector, capUpdate} {
		if !caps[c] {
			missing = append(missing, c)
		}
	}
	if cfg.StreamID == "live" {
		missing = append(missing, capBypass+" (to read the raw stream \"live\"; or set CONNECTOR_LIVE_STREAM_ID to a live stream id)")
	} else if !caps[capTaxii] {
		missing = append(missing, capTaxii+" (to read live stream "+strconv.Quote(cfg.StreamID)+")")
	}
	if len(missing) > 0 {
		rep.add("opencti.capabilities", true, Differs, "the user of OPENCTI_TOKEN lacks %s (has: %s)", strings.Join(missing, ", "), has)
		return
	}
	rep.add("opencti.capabilities", true, OK, "%s, %s, %s present", capConnector, capUpdate, capTaxii)
}

// probeOpenCTIVersion reads `about { version }`. Unknown: whether some platforms restrict
// `about` to administrators; then the line says cannot tell and does not fail the check.
func probeOpenCTIVersion(ctx context.Context, rep *Report, cl *opencti.Client) {
	var about struct {
		Version string `json:"version"`
	}
	if err := cl.Do(ctx, "about", `query CheckAbout { about { version } }`, nil, &about); err != nil {
		rep.add("opencti.version", false, CannotTell, "%v", err)
		return
	}
	v, ok := parseVersion(about.Version)
	switch {
	case !ok:
		rep.add("opencti.version", false, CannotTell, "unreadable version %q", about.Version)
	case lessVersion(v, minOpenCTI) || v[0] > maxOpenCTIMajor:
		rep.add("opencti.version", true, Differs, "OpenCTI %s: supported are 6.5.7 to 7.x", about.Version)
	default:
		rep.add("opencti.version", true, OK, "OpenCTI %s (supported: 6.5.7 to 7.x)", about.Version)
	}
}

func parseVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".", 3)
	if len(parts) < 2 {
		return v, false
	}
	for i, p := range parts {
		if j := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			p = p[:j] // 6.9.0-rc1
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func lessVersion(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// probeStream opens the live stream as opencti_stream does and waits for its `connected` event.
func probeStream(ctx context.Context, rep *Report, cfg Config, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := strings.TrimRight(cfg.OpenCTIURL, "/") + "/stream/" + url.PathEscape(cfg.StreamID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		rep.add("opencti.stream", true, CannotTell, "%v", err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+cfg.OpenCTIToken)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("listen-delete", cfg.ListenDelete)
	req.Header.Set("no-dependencies", cfg.NoDependencies)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rep.add("opencti.stream", true, CannotTell, "no answer: %v", stripURLs(err))
		return
	}
	defer resp.Body.Close()
	id := strconv.Quote(cfg.StreamID)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		// OpenCTI answers 401 for a refused token, for a user without BYPASS on "live", and for
		// an unknown stream id alike (never 404): name every possibility.
		rep.add("opencti.stream", true, Differs, "%s on stream %s: OPENCTI_TOKEN refused, or its user may not read it (needs BYPASS for \"live\", TAXIIAPI otherwise), or no stream has that id (check CONNECTOR_LIVE_STREAM_ID)", resp.Status, id)
		return
	case http.StatusNotFound:
		rep.add("opencti.stream", true, Differs, "%s: no stream %s (check CONNECTOR_LIVE_STREAM_ID)", resp.Status, id)
		return
	case http.StatusGone:
		rep.add("opencti.stream", true, Differs, "%s: stream %s is stopped (start it in OpenCTI: Data sharing > Live streams)", resp.Status, id)
		return
	default:
		rep.add("opencti.stream", true, Differs, "%s on stream %s", resp.Status, id)
		return
	}
	info, err := readConnected(resp)
	if err != nil {
		rep.add("opencti.stream", true, Differs, "stream %s answered 200 but %v", id, err)
		return
	}
	rep.add("opencti.stream", true, OK, "stream %s readable: %d events retained, first %s, last %s", id, info.StreamSize, info.FirstEventID, info.LastEventID)
}

type connectedEvent struct {
	FirstEventID string `json:"firstEventId"`
	LastEventID  string `json:"lastEventId"`
	StreamSize   int    `json:"streamSize"`
}

// readConnected reads SSE lines until the `connected` event (the first one OpenCTI sends).
func readConnected(resp *http.Response) (connectedEvent, error) {
	var ev connectedEvent
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return ev, fmt.Errorf("with content type %q, not an event stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:") && event == "connected":
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &ev); err != nil {
				return ev, fmt.Errorf("its connected event is not JSON: %w", err)
			}
			return ev, nil
		case strings.HasPrefix(line, "data:"):
			return ev, fmt.Errorf("its first event is %q, not connected", event)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return ev, fmt.Errorf("no connected event came: %v", stripURLs(err))
	}
	return ev, errors.New("no connected event came before the stream ended")
}

// stripURLs keeps transport errors short; url.Error carries the URL, never the token.
func stripURLs(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
