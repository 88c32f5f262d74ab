// Package intelpush holds the end-to-end tests of the intel push (OpenCTI → HarfangLab): the
// real binary runs pipelines/opencti-to-harfanglab.yaml against the OpenCTI stream simulator
// and the HarfangLab simulator.
package intelpush

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

const (
	hlToken   = deploy.HLToken
	octiToken = deploy.OCTIToken
	streamID  = deploy.StreamID
	listName  = "from_OpenCTI"
	waitLong  = 60 * time.Second

	extOCTI  = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"
	extMITRE = "extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b"
)

// env is one deployment: both simulators, a state directory and the binary's environment.
type env struct {
	t     *testing.T
	hl    *hlsim.Server
	octi  *openctisim.Server
	state string
	vars  map[string]string
	addr  string
	proc  *harness.Proc
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := deploy.New(t)
	return &env{t: t, hl: d.HL, octi: d.OCTI, state: d.State, vars: d.Vars}
}

// start runs the binary on the intel pipeline and waits until it is ready.
func (e *env) start() *harness.Proc {
	e.t.Helper()
	e.addr = harness.FreeAddr(e.t)
	e.vars["HTTP_ADDRESS"] = e.addr
	e.proc = harness.Start(e.t, e.vars, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("resources.yaml"),
		harness.Pipeline("opencti-to-harfanglab.yaml"))
	require.NoError(e.t, e.proc.WaitReady(e.addr, waitLong))
	return e.proc
}

// publish sends one event whose data is obj; it returns the event id.
func (e *env) publish(event string, obj map[string]any, context map[string]any) string {
	e.t.Helper()
	env := map[string]any{"version": "4", "type": event, "data": obj, "message": event + " " + fmt.Sprint(obj["id"]), "origin": map[string]any{}}
	if context != nil {
		env["context"] = context
	}
	b, err := json.Marshal(env)
	require.NoError(e.t, err)
	return e.octi.Publish(streamID, event, b)
}

// iocs is the IOC list as "value" → "enabled|disabled owner,owner" (owners from the comment).
func (e *env) iocs() map[string]string {
	out := map[string]string{}
	for _, r := range e.hl.IOCs(listName) {
		state := "disabled"
		if r.Enabled {
			state = "enabled"
		}
		var c struct {
			IDs []string `json:"indicator_ids"`
		}
		_ = json.Unmarshal([]byte(r.Comment), &c)
		sort.Strings(c.IDs)
		out[r.Value] = strings.TrimSpace(state + " " + strings.Join(c.IDs, ","))
	}
	return out
}

// rules is the Sigma and YARA lists as "name" → "enabled|disabled".
func (e *env) rules() map[string]string {
	out := map[string]string{}
	for _, r := range append(e.hl.SigmaRules(listName), e.hl.YaraFiles(listName)...) {
		state := "disabled"
		if r.Enabled {
			state = "enabled"
		}
		out[r.Name] = state
	}
	return out
}

// eventually waits until the IOC list equals want.
func (e *env) eventuallyIOCs(want map[string]string, msg string) {
	e.t.Helper()
	e.proc.Eventually(waitLong, func() bool { return equal(e.iocs(), want) }, "%s: IOCs %v, want %v", msg, lazy(e.iocs), want)
}

func (e *env) eventuallyRules(want map[string]string, msg string) {
	e.t.Helper()
	e.proc.Eventually(waitLong, func() bool { return equal(e.rules(), want) }, "%s: rules %v, want %v", msg, lazy(e.rules), want)
}

type lazy func() map[string]string

func (l lazy) String() string { return fmt.Sprint(l()) }

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// deadLetters reads the pipeline's dead-letter file.
func (e *env) deadLetters() []string {
	b, err := os.ReadFile(filepath.Join(e.state, "dead-letter", "opencti-to-harfanglab.jsonl"))
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// indicator is an OpenCTI indicator as the live stream carries it (STIX 2.1 + extensions).
type indicator struct {
	internal   string // OpenCTI internal id: the owner key, survives pattern changes
	stixID     string
	name       string
	pattern    string
	kind       string // stix, sigma, yara
	score      int
	revoked    bool
	detection  bool
	validUntil *time.Time
}

func newIndicator(name, kind, pattern string) *indicator {
	return &indicator{internal: uuid.NewString(), stixID: "indicator--" + uuid.NewString(), name: name, kind: kind, pattern: pattern, score: 50, detection: true}
}

func (i *indicator) data() map[string]any {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	d := map[string]any{
		"id": i.stixID, "type": "indicator", "spec_version": "2.1", "name": i.name, "description": "about " + i.name,
		"pattern": i.pattern, "pattern_type": i.kind, "revoked": i.revoked, "created": now, "modified": now,
		"valid_from": "2020-01-01T00:00:00Z",
		"extensions": map[string]any{
			extOCTI:  map[string]any{"extension_type": "property-extension", "id": i.internal, "score": i.score, "detection": i.detection, "updated_at": now, "stix_ids": []string{}},
			extMITRE: map[string]any{"extension_type": "property-extension", "x_mitre_platforms": []string{"windows"}},
		},
	}
	if i.validUntil != nil {
		d["valid_until"] = i.validUntil.UTC().Format(time.RFC3339Nano)
	}
	return d
}

// basedOn is a based-on relationship from an indicator to an observable.
func basedOn(relInternal string, ind *indicator, targetType, targetValue string) map[string]any {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return map[string]any{
		"id": "relationship--" + relInternal, "type": "relationship", "spec_version": "2.1", "relationship_type": "based-on",
		"source_ref": ind.stixID, "target_ref": strings.ToLower(targetType) + "--" + uuid.NewString(), "created": now, "modified": now,
		"extensions": map[string]any{extOCTI: map[string]any{
			"extension_type": "property-extension", "id": relInternal, "updated_at": now,
			"source_ref": ind.internal, "source_type": "Indicator", "source_value": ind.name,
			"target_ref": uuid.NewString(), "target_type": targetType, "target_value": targetValue,
		}},
	}
}
