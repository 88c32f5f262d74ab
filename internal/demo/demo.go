// Package demo is the `demo` subcommand: it starts the OpenCTI and HarfangLab simulators on
// loopback, seeds them with indicators of every kind and alerts of every type, runs the two
// shipped pipelines (the same YAML users run) against them in this process, shows progress, and
// ends with a summary of what moved in each direction.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/pipelines"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/envcompat"
)

// Command is the `demo` subcommand of the binary.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "Run both pipelines against built-in OpenCTI and HarfangLab simulators and show what moves",
		Description: "Starts simulators of OpenCTI and HarfangLab on loopback, seeds indicators of every kind\n" +
			"and alerts of every type, runs pipelines/opencti-to-harfanglab.yaml and\n" +
			"pipelines/harfanglab-to-opencti.yaml against them, and prints a summary. Ends by itself.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: 50 * time.Second, Usage: "give up waiting after this long"},
			&cli.StringFlag{Name: "state-dir", Usage: "keep cursors, dead letters and logs here (default: a temporary folder)"},
		},
		Action: func(c *cli.Context) error {
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			sum, err := Run(ctx, c.App.Writer, c.String("state-dir"))
			if err != nil {
				return err
			}
			if !sum.Complete() {
				return cli.Exit("demo: not everything moved before the timeout (see the summary and the log)", 1)
			}
			return nil
		},
	}
}

const (
	octiToken     = "demo-opencti-token"
	hlToken       = "demo-harfanglab-token"
	connectorID   = "5e1b3a5c-4c6f-4c5e-9d2a-0d4f6c2b7a11"
	sourceList    = "from_OpenCTI"
	progressEvery = 500 * time.Millisecond
)

// Summary is what moved in each direction.
type Summary struct {
	IOCsByType       map[string]int // enabled IOC rules in the list, by type
	SigmaRules       int
	YaraFiles        int
	RemovedValues    int // values of indicators that stopped being live, gone from HarfangLab
	RejectedEvents   int // dead-lettered by the intel push
	ExpectedIOCs     int
	BundlesPushed    int
	Incidents        int
	Sightings        int
	SightingsOfOCTI  int // sightings whose indicator is one of the seeded OpenCTI indicators
	Observables      int
	CaseIncidents    int
	ExpectedAlerts   int
	ExpectedThreats  int
	ExpectedRemovals int
}

// IOCs is the number of enabled IOC rules.
func (s Summary) IOCs() int {
	n := 0
	for _, c := range s.IOCsByType {
		n += c
	}
	return n
}

// Complete tells whether everything the demo seeded arrived where it should.
func (s Summary) Complete() bool {
	return s.IOCs() == s.ExpectedIOCs && s.SigmaRules == 1 && s.YaraFiles == 1 &&
		s.RemovedValues == s.ExpectedRemovals && s.RejectedEvents == 1 &&
		s.Incidents >= s.ExpectedAlerts && s.CaseIncidents >= s.ExpectedThreats &&
		s.SightingsOfOCTI >= 1
}

// Run runs the demo, writing progress and the summary to out.
func Run(ctx context.Context, out io.Writer, stateDir string) (Summary, error) {
	var sum Summary
	if stateDir == "" {
		dir, err := os.MkdirTemp("", "opencti-harfanglab-demo-")
		if err != nil {
			return sum, err
		}
		defer os.RemoveAll(dir)
		stateDir = dir
	}
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return sum, fmt.Errorf("creating the state folder: %w", err)
	}
	ctx, abort := context.WithCancel(ctx)
	defer abort()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	octi, hl := openctisim.New(octiToken), hlsim.New(hlToken)
	octiURL, err := octi.Start("")
	if err != nil {
		return sum, fmt.Errorf("starting the OpenCTI simulator: %w", err)
	}
	defer octi.Close()
	hlURL, err := hl.Start("")
	if err != nil {
		return sum, fmt.Errorf("starting the HarfangLab simulator: %w", err)
	}
	defer hl.Close()
	say("OpenCTI simulator    %s", octiURL)
	say("HarfangLab simulator %s", hlURL)
	say("state, dead letters and log in %s", stateDir)

	env := map[string]string{
		"OPENCTI_URL": octiURL, "OPENCTI_TOKEN": octiToken, "CONNECTOR_ID": connectorID,
		"HARFANGLAB_URL": hlURL, "HARFANGLAB_TOKEN": hlToken, "STATE_DIR": stateDir,
		"HARFANGLAB_POLL_INTERVAL": "1s", "CONNECTOR_LIVE_STREAM_RECOVER_FROM": "0-0",
		// The simulator makes alerts searchable at once: no need for the 2 min a real console's
		// Elasticsearch refresh and late agent uploads call for.
		"HARFANGLAB_SETTLE_DELAY":      "1s",
		"HARFANGLAB_IMPORT_START_DATE": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
	}
	logFile := filepath.Join(stateDir, "demo.log")

	// 1. OpenCTI → HarfangLab.
	seed := seedIndicators(hl)
	sum.ExpectedIOCs, sum.ExpectedRemovals = seed.finalIOCs, len(seed.dying)
	for _, ev := range seed.events {
		octi.Publish("live", ev.event, ev.data)
	}
	for internal, stixID := range seed.internalIDs {
		octi.AddIndicator(internal, stixID) // the platform knows its own indicators
	}
	say("\n▶ OpenCTI → HarfangLab: %d stream events (%d indicators, 1 based-on link, 1 invalid pattern)", len(seed.events), seed.indicators)
	push, err := startPipeline(ctx, abort, out, pipelines.OpenCTIToHarfangLab, env, logFile)
	if err != nil {
		return sum, err
	}
	seen := map[string]bool{}
	waitFor(ctx, out, func() bool {
		fillIntel(&sum, hl, stateDir, seen)
		return seenAll(seen, seed.firstValues) && sum.SigmaRules == 1 && sum.YaraFiles == 1 && sum.RejectedEvents == 1
	}, func() string {
		return fmt.Sprintf("  IOC rules %d  Sigma %d/1  YARA %d/1  rejected %d/1", sum.IOCs(), sum.SigmaRules, sum.YaraFiles, sum.RejectedEvents)
	})
	say("  one indicator is revoked, one expires (valid_until) with no event …")
	for _, ev := range seed.later {
		octi.Publish("live", ev.event, ev.data)
	}
	waitFor(ctx, out, func() bool {
		fillIntel(&sum, hl, stateDir, seen)
		sum.RemovedValues = countGone(hl, seed.dying)
		return sum.RemovedValues == sum.ExpectedRemovals
	}, func() string {
		return fmt.Sprintf("  removed %d/%d  IOC rules %d", sum.RemovedValues, sum.ExpectedRemovals, sum.IOCs())
	})

	// 2. HarfangLab → OpenCTI.
	alerts, threats := seedAlerts(hl, seed)
	sum.ExpectedAlerts, sum.ExpectedThreats = alerts, threats
	say("\n▶ HarfangLab → OpenCTI: %d security events (sigma, yara, ioc ×5) and %d threat", alerts, threats)
	pull, err := startPipeline(ctx, abort, out, pipelines.HarfangLabToOpenCTI, env, logFile)
	if err != nil {
		_ = push.StopWithin(5 * time.Second)
		return sum, err
	}
	waitFor(ctx, out, func() bool {
		fillDetections(&sum, octi, seed)
		return sum.Incidents >= alerts && sum.CaseIncidents >= threats
	}, func() string {
		return fmt.Sprintf("  bundles %d  incidents %d/%d  sightings %d  case incidents %d/%d", sum.BundlesPushed, sum.Incidents, alerts, sum.Sightings, sum.CaseIncidents, threats)
	})
	fillDetections(&sum, octi, seed)

	_ = push.StopWithin(5 * time.Second)
	_ = pull.StopWithin(5 * time.Second)
	printSummary(out, sum)
	return sum, nil
}

// startPipeline runs one shipped stream file in this process with env as its environment.
func startPipeline(ctx context.Context, abort context.CancelFunc, out io.Writer, yaml string, env map[string]string, logFile string) (*service.Stream, error) {
	b := service.NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		if k == "HARFANGLAB_SKIP_CERT_VERIFY" {
			return envcompat.Lookup(ctx, k)
		}
		return "", false // never the caller's real settings
	})
	// SetYAML replaces the whole configuration: resources are added after it.
	if err := b.SetYAML(yaml); err != nil {
		return nil, fmt.Errorf("demo pipeline: %w", err)
	}
	if err := b.AddResourcesYAML(pipelines.Resources); err != nil {
		return nil, fmt.Errorf("demo resources: %w", err)
	}
	if err := b.SetLoggerYAML(fmt.Sprintf("level: INFO\nformat: logfmt\nfile:\n  path: %q\n", logFile)); err != nil {
		return nil, err
	}
	s, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("demo pipeline: %w", err)
	}
	go func() {
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "  pipeline stopped: %v\n", err)
			abort()
		}
	}()
	return s, nil
}

// waitFor polls done until it holds or ctx ends, printing status to out whenever it changes.
func waitFor(ctx context.Context, out io.Writer, done func() bool, status func() string) {
	last := ""
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		ok := done()
		if line := status(); line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func fillIntel(sum *Summary, hl *hlsim.Server, stateDir string, seen map[string]bool) {
	sum.IOCsByType = map[string]int{}
	for _, r := range hl.IOCs(sourceList) {
		if r.Enabled {
			sum.IOCsByType[r.Type]++
			seen[strings.ToLower(r.Value)] = true
		}
	}
	sum.SigmaRules = countEnabled(hl.SigmaRules(sourceList))
	sum.YaraFiles = countEnabled(hl.YaraFiles(sourceList))
	sum.RejectedEvents = countLines(filepath.Join(stateDir, "dead-letter", "opencti-to-harfanglab.jsonl"))
}

func countEnabled(rules []hlsim.Rule) int {
	n := 0
	for _, r := range rules {
		if r.Enabled {
			n++
		}
	}
	return n
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// countGone counts the values of dying indicators no longer enabled in HarfangLab.
func countGone(hl *hlsim.Server, dying []string) int {
	enabled := map[string]bool{}
	for _, r := range hl.IOCs(sourceList) {
		if r.Enabled {
			enabled[r.Value] = true
		}
	}
	n := 0
	for _, v := range dying {
		if !enabled[v] {
			n++
		}
	}
	return n
}

func fillDetections(sum *Summary, octi *openctisim.Server, seed seeded) {
	sum.BundlesPushed = octi.BundlesPushed()
	sum.Incidents = len(octi.ObjectsOfType("incident"))
	sum.CaseIncidents = len(octi.ObjectsOfType("case-incident"))
	sightings := octi.ObjectsOfType("sighting")
	sum.Sightings = len(sightings)
	sum.SightingsOfOCTI = 0
	for _, s := range sightings {
		if ref, _ := s["sighting_of_ref"].(string); seed.stixIDs[ref] {
			sum.SightingsOfOCTI++
		}
	}
	sum.Observables = 0
	for _, t := range []string{"hostname", "user-account", "file", "ipv4-addr", "ipv6-addr", "domain-name", "url", "directory"} {
		sum.Observables += len(octi.ObjectsOfType(t))
	}
}

func printSummary(out io.Writer, s Summary) {
	types := make([]string, 0, len(s.IOCsByType))
	for t := range s.IOCsByType {
		types = append(types, t)
	}
	sort.Strings(types)
	var byType []string
	for _, t := range types {
		byType = append(byType, fmt.Sprintf("%s %d", t, s.IOCsByType[t]))
	}
	rows := [][2]string{
		{"OpenCTI → HarfangLab", ""},
		{"  IOC rules enabled", fmt.Sprintf("%d (%s)", s.IOCs(), strings.Join(byType, ", "))},
		{"  Sigma rules", fmt.Sprint(s.SigmaRules)},
		{"  YARA files", fmt.Sprint(s.YaraFiles)},
		{"  removed (revoked, expired)", fmt.Sprint(s.RemovedValues)},
		{"  rejected to dead letter", fmt.Sprint(s.RejectedEvents)},
		{"HarfangLab → OpenCTI", ""},
		{"  bundles pushed", fmt.Sprint(s.BundlesPushed)},
		{"  incidents", fmt.Sprint(s.Incidents)},
		{"  sightings", fmt.Sprintf("%d (%d of the seeded OpenCTI indicators)", s.Sightings, s.SightingsOfOCTI)},
		{"  observables", fmt.Sprint(s.Observables)},
		{"  case incidents", fmt.Sprint(s.CaseIncidents)},
	}
	fmt.Fprintln(out, "\nSummary")
	for _, r := range rows {
		if r[1] == "" {
			fmt.Fprintf(out, "  %s\n", r[0])
			continue
		}
		fmt.Fprintf(out, "  %-32s %s\n", r[0], r[1])
	}
	status := "complete"
	if !s.Complete() {
		status = "INCOMPLETE"
	}
	fmt.Fprintf(out, "\ndemo %s\n", status)
}
