package check_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/check"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

const (
	octiToken = "octi-check-secret-token-1234"
	hlToken   = "hl-check-secret-token-5678"
)

type sims struct {
	octi *openctisim.Server
	hl   *hlsim.Server
	env  map[string]string
}

// startSims starts both simulators with two security events, one of them without last_update
// (as real exports of never-touched alerts), and the environment pointing at them.
func startSims(t *testing.T, lenient bool) *sims {
	t.Helper()
	octi, hl := openctisim.New(octiToken), hlsim.New(hlToken)
	hl.SetLenient(lenient)
	octiURL, err := octi.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = octi.Close() })
	hlURL, err := hl.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hl.Close() })
	hl.AddAlert(hl.SampleAlert(hlsim.SampleSigma, 1))
	untouched := hl.SampleAlert(hlsim.SampleSigma, 2)
	untouched["last_update"] = nil
	hl.AddAlert(untouched)
	return &sims{octi: octi, hl: hl, env: map[string]string{
		"OPENCTI_URL": octiURL, "OPENCTI_TOKEN": octiToken, "CONNECTOR_ID": "0e0c0000-0000-4000-8000-0000000000aa",
		"HARFANGLAB_URL": hlURL, "HARFANGLAB_TOKEN": hlToken,
	}}
}

// run runs the check and fails the test if a token appears anywhere in the report.
func (s *sims) run(t *testing.T, write bool) (string, int) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lookup := func(k string) (string, bool) { v, ok := s.env[k]; return v, ok }
	failed := check.Main(ctx, &out, lookup, check.Options{Write: write, RequestTimeout: 5 * time.Second})
	report := out.String()
	for _, tok := range []string{octiToken, hlToken, s.env["OPENCTI_TOKEN"], s.env["HARFANGLAB_TOKEN"]} {
		if tok != "" && strings.Contains(report, tok) {
			t.Fatalf("the report contains a token:\n%s", report)
		}
	}
	return report, failed
}

// lineOf returns the text after the probe name on its report line ("" if absent).
func lineOf(report, probe string) string {
	re := regexp.MustCompile(`(?m)^[* ] ` + regexp.QuoteMeta(probe) + ` +(.*)$`)
	if m := re.FindStringSubmatch(report); m != nil {
		return m[1]
	}
	return ""
}

// expect asserts that each probe's line matches its pattern.
func expect(t *testing.T, report string, want map[string]string) {
	t.Helper()
	for probe, pattern := range want {
		got := lineOf(report, probe)
		if !regexp.MustCompile(pattern).MatchString(got) {
			t.Errorf("%s: got %q, want /%s/", probe, got, pattern)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", report)
	}
}

// common holds the lines both simulator modes must print.
var common = map[string]string{
	"settings":                       `^ok: stream "live", list "from_OpenCTI", maturity stable, TLS verified$`,
	"opencti.token":                  `^ok: accepted: user "connector"$`,
	"opencti.capabilities":           `^ok: BYPASS grants every right`,
	"opencti.version":                `^ok: OpenCTI 6\.8\.10 `,
	"opencti.stream":                 `^ok: stream "live" readable: 0 events retained`,
	"harfanglab.token":               `^ok: accepted$`,
	"harfanglab.version":             `^ok: HarfangLab ` + regexp.QuoteMeta(hlsim.Version) + `$`,
	"harfanglab.sources":             `^ok: IOC, Sigma and YARA lists readable; "from_OpenCTI" is created at first start as IOC, Sigma, YARA$`,
	"harfanglab.rules":               `^ok: readable: 0 IOC rules, 0 Sigma rules, 0 YARA files$`,
	"harfanglab.global_state":        `^cannot tell: no rule on the console`,
	"harfanglab.alerts":              `^ok: readable: 2 security events with status new,investigating, type yara,sigma,ioc, maturity stable$`,
	"harfanglab.threats":             `^ok: readable by last_update \(ordering and whole-second filter accepted\)$`,
	"harfanglab.ordering_alert_time": `^ok: accepted and honoured \(2 events compared\)$`,
	"harfanglab.time_filter_seconds": `^ok: whole seconds \(2100-01-01T00:00:00Z\): alert_time__gte accepted and honoured; last_update__gte accepted and honoured$`,
	"harfanglab.maturity_filter":     `^ok: maturity=stable accepted$`,
	"harfanglab.pull_queries":        `^ok: both passes' queries accepted \(alert_time 200, last_update 200\)$`,
}

func TestReadOnlyLenient(t *testing.T) {
	s := startSims(t, true)
	report, failed := s.run(t, false)
	expect(t, report, common)
	expect(t, report, map[string]string{
		"harfanglab.alerts_last_update":       `^ok: 1 of the 2 most recent security events have no last_update`,
		"harfanglab.ordering_last_update_id":  `^ok: accepted$`,
		"harfanglab.time_filter_microseconds": `^ok: microseconds \(2100-01-01T00:00:00.000000Z\): alert_time__gte accepted and honoured$`,
		"harfanglab.result_window":            `^ok: offset 10000 accepted: no 10000-result window`,
	})
	if failed != 0 || lineOf(report, "write.lists") != "" {
		t.Fatalf("failed=%d, want 0 and no write probe:\n%s", failed, report)
	}
	if !strings.Contains(report, "every required one ok") {
		t.Fatalf("no summary line:\n%s", report)
	}
}

func TestWriteLenient(t *testing.T) {
	s := startSims(t, true)
	report, failed := s.run(t, true)
	expect(t, report, common)
	expect(t, report, writeCommon)
	expect(t, report, map[string]string{
		"write.sigma.create":    `^ok: POST 200 status list of 1 \{code: number, content: string, filename: string, id: string, status: bool\}$`,
		"write.sigma.read_back": `^ok: content stored as sent, description stored, no global_state$`,
		"write.sigma.duplicate": `^differs: a second rule with the same Sigma id was accepted`,
		"write.ioc.disable":     `^ok: PATCH 200 object \{id: string, global_state: string, .*\}; reads back enabled false, global_state disabled$`,
	})
	if failed != 0 {
		t.Fatalf("failed=%d:\n%s", failed, report)
	}
	assertNoTemporaryList(t, s.hl)
}

// writeCommon holds the --write lines both modes must print.
var writeCommon = map[string]string{
	"write.lists":         `^ok: temporary lists "opencti-harfanglab-check-[0-9a-f]{8}" created: IOC 201 object \{id: string`,
	"write.ioc.create":    `^ok: POST 201 object \{id: string, `,
	"write.ioc.duplicate": `^ok: second POST refused as the product expects: 400 \{"__all__":\["\['Ioc rule with this Type, Value and Source already exists.'\]"\]\}$`,
	"write.ioc.patch":     `^ok: PATCH 200 object \{.*\}; comment reads back$`,
	"write.ioc.delete":    `^ok: DELETE 204 empty body; reads back 404$`,
	"write.sigma.patch":   `^ok: PATCH 200 `,
	"write.sigma.disable": `^ok: PATCH 200 .*; reads back enabled false`,
	"write.sigma.delete":  `^ok: DELETE 204 empty body; reads back 404$`,
	"write.yara.create":   `^ok: POST 20[01] status list of 1 `,
	"write.yara.patch":    `^ok: PATCH 200 `,
	"write.yara.disable":  `^ok: PATCH 200 .*; reads back enabled false`,
	"write.yara.delete":   `^ok: DELETE 204 empty body; reads back 404$`,
	"write.cleanup":       `^ok: temporary lists deleted \(IOC 204, Sigma 204, YARA 204\)$`,
}

func assertNoTemporaryList(t *testing.T, hl *hlsim.Server) {
	t.Helper()
	for _, kind := range []string{"IOCSource", "SigmaSource", "YaraSource"} {
		for _, name := range hl.Sources(kind) {
			if strings.HasPrefix(name, check.ListPrefix) {
				t.Errorf("temporary %s %q left behind", kind, name)
			}
		}
	}
}

// A failing step leaves nothing behind: the Sigma upload answers 503, the YARA sequence still
// runs, and the temporary lists are deleted.
func TestWriteCleansUpAfterAFailure(t *testing.T) {
	s := startSims(t, false)
	inj := s.hl.Faults()
	inj.Skip = func(r *http.Request) bool {
		return r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/SigmaRule/")
	}
	inj.Set(faults.Config{Rate5xx: 1})
	report, failed := s.run(t, true)
	expect(t, report, map[string]string{
		"write.sigma.create": `^differs: POST answered 503 not JSON \(\d+ bytes\), taken as not created: service unavailable \(injected\)$`,
		"write.yara.create":  `^ok: POST 20[01] `,
		"write.yara.delete":  `^ok: DELETE 204`,
		"write.cleanup":      `^ok: temporary lists deleted`,
	})
	if failed != 1 {
		t.Errorf("failed=%d, want 1 (write.sigma.create)", failed)
	}
	assertNoTemporaryList(t, s.hl)
}

func TestWrongTokens(t *testing.T) {
	s := startSims(t, false)
	s.env["OPENCTI_TOKEN"] = "wrong-opencti-token-abcdef"
	s.env["HARFANGLAB_TOKEN"] = "wrong-harfanglab-token-abcdef"
	report, failed := s.run(t, true)
	expect(t, report, map[string]string{
		"opencti.token":        `^differs: opencti me: OpenCTI rejected the token \(AUTH_REQUIRED\): check OPENCTI_TOKEN$`,
		"opencti.capabilities": `^cannot tell: the token was not accepted$`,
		"opencti.stream":       `^differs: 401 [^:]+ on stream "live": OPENCTI_TOKEN refused, or its user may not read it \(needs BYPASS for "live", TAXIIAPI otherwise\), or no stream has that id \(check CONNECTOR_LIVE_STREAM_ID\)$`,
		"harfanglab.token":     `^differs: 401 \{"detail":"Invalid token."\}: HarfangLab refused HARFANGLAB_TOKEN$`,
	})
	if failed < 3 || lineOf(report, "harfanglab.alerts") != "" || lineOf(report, "write.lists") != "" {
		t.Fatalf("failed=%d; want ≥3 and nothing probed past the HarfangLab token:\n%s", failed, report)
	}
}

// A token echoed back by a server is still redacted.
func TestTokenEchoedByTheServerIsRedacted(t *testing.T) {
	s := startSims(t, false)
	s.env["CONNECTOR_LIVE_STREAM_ID"] = hlToken // lands in the report as the stream id
	report, _ := s.run(t, false)
	if !strings.Contains(lineOf(report, "opencti.stream"), `"[redacted]"`) {
		t.Fatalf("the stream line does not show the redacted value:\n%s", report)
	}
}

func TestOpenCTIRights(t *testing.T) {
	for _, c := range []struct {
		name   string
		setup  func(*openctisim.Server, map[string]string)
		status string
	}{
		{"no connector API", func(o *openctisim.Server, _ map[string]string) { o.SetConnectorAPI(false) },
			`^differs: the user of OPENCTI_TOKEN lacks CONNECTORAPI, BYPASS \(to read the raw stream "live"; or set CONNECTOR_LIVE_STREAM_ID to a live stream id\) \(has: KNOWLEDGE, KNOWLEDGE_KNUPDATE, TAXIIAPI\)$`},
		{"no bypass for live", func(o *openctisim.Server, _ map[string]string) {
			o.SetCapabilities("CONNECTORAPI", "KNOWLEDGE_KNUPDATE")
		},
			`^differs: the user of OPENCTI_TOKEN lacks BYPASS \(to read the raw stream "live"`},
		{"bypass revoked", func(o *openctisim.Server, _ map[string]string) { o.SetBypass(false) },
			`^differs: the user of OPENCTI_TOKEN lacks BYPASS \(to read the raw stream "live"`},
		{"connector without update", func(o *openctisim.Server, _ map[string]string) { o.SetCapabilities("CONNECTORAPI") },
			`^differs: the user of OPENCTI_TOKEN lacks KNOWLEDGE_KNUPDATE, BYPASS`},
		{"stream collection with TAXIIAPI", func(o *openctisim.Server, env map[string]string) {
			o.SetCapabilities("CONNECTORAPI", "KNOWLEDGE_KNUPDATE", "TAXIIAPI")
			env["CONNECTOR_LIVE_STREAM_ID"] = "a1b2"
		}, `^ok: CONNECTORAPI, KNOWLEDGE_KNUPDATE, TAXIIAPI present$`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startSims(t, false)
			c.setup(s.octi, s.env)
			report, failed := s.run(t, false)
			expect(t, report, map[string]string{"opencti.capabilities": c.status})
			if strings.Contains(c.name, "bypass") {
				// openctisim answers 401 on `live` without BYPASS, as OpenCTI does.
				expect(t, report, map[string]string{"opencti.stream": `^differs: 401 You are not authorized, please check your credentials on stream "live"`})
			}
			if strings.HasPrefix(c.status, "^differs") && failed == 0 {
				t.Errorf("missing capabilities, yet every required probe ok")
			}
		})
	}
}

func TestOpenCTIVersion(t *testing.T) {
	for v, want := range map[string]string{
		"6.4.5":      `^differs: OpenCTI 6\.4\.5: supported are 6\.5\.7 to 7\.x$`,
		"6.5.7":      `^ok: OpenCTI 6\.5\.7 `,
		"6.9.0-rc1":  `^ok: OpenCTI 6\.9\.0-rc1 `,
		"7.260817.0": `^ok: OpenCTI 7\.260817\.0 `,
		"8.0.0":      `^differs: OpenCTI 8\.0\.0: supported`,
		"rolling":    `^cannot tell: unreadable version "rolling"$`,
	} {
		t.Run(v, func(t *testing.T) {
			s := startSims(t, false)
			s.octi.SetVersion(v)
			report, failed := s.run(t, false)
			expect(t, report, map[string]string{"opencti.version": want})
			if strings.HasPrefix(want, "^differs") != (failed > 0) {
				t.Errorf("failed=%d for %s", failed, v)
			}
		})
	}
}

func TestUnknownStream(t *testing.T) {
	s := startSims(t, false)
	s.env["CONNECTOR_LIVE_STREAM_ID"] = "no-such-stream"
	s.octi.SetCapabilities("BYPASS")
	report, failed := s.run(t, false)
	expect(t, report, map[string]string{
		"opencti.stream": `^differs: 401 You are not authorized, please check your credentials on stream "no-such-stream": OPENCTI_TOKEN refused, or its user may not read it \(needs BYPASS for "live", TAXIIAPI otherwise\), or no stream has that id \(check CONNECTOR_LIVE_STREAM_ID\)$`,
	})
	if failed != 1 {
		t.Errorf("failed=%d, want 1", failed)
	}
}

func TestMissingSettings(t *testing.T) {
	s := &sims{env: map[string]string{"HARFANGLAB_SSL_VERIFY": "maybe"}}
	report, failed := s.run(t, true)
	expect(t, report, map[string]string{
		"settings":              `^differs: OPENCTI_URL is not set; OPENCTI_TOKEN is not set; HARFANGLAB_URL is not set; HARFANGLAB_TOKEN is not set; HARFANGLAB_SSL_VERIFY is not true or false$`,
		"settings.connector_id": `^differs: CONNECTOR_ID is not set: the detections pull`,
		"opencti.token":         `^cannot tell: OPENCTI_URL or OPENCTI_TOKEN is not set$`,
		"harfanglab.token":      `^cannot tell: HARFANGLAB_URL or HARFANGLAB_TOKEN is not set$`,
	})
	if failed < 4 {
		t.Errorf("failed=%d, want ≥4", failed)
	}
}
