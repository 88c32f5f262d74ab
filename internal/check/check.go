// Package check is the `check` subcommand: the pre-flight report a user runs once against their
// real OpenCTI and HarfangLab, with the pipelines' environment, before the first start. Each
// probe verifies one assumption the product makes about those servers (reference
// harfanglab-api-evidence.md, opencti-server-evidence.md) and prints one line: `ok`, `differs`
// (with what the server answered) or `cannot tell` (with why). It only reads, unless --write,
// which creates, changes and deletes one IOC, one Sigma rule and one YARA file in temporary lists
// it removes at the end. The report never contains a token.
package check

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
)

// Options tune a run.
type Options struct {
	// Write enables the --write probes.
	Write bool
	// RequestTimeout bounds one request (default 30 s).
	RequestTimeout time.Duration
}

// Run probes both servers and returns the report.
func Run(ctx context.Context, cfg Config, opts Options) *Report {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	rep := newReport(cfg.OpenCTIToken, cfg.HarfangLabToken)
	probeSettings(rep, cfg)
	probeOpenCTI(ctx, rep, cfg, opts.RequestTimeout)
	h, err := newHL(cfg, opts.RequestTimeout)
	if err != nil {
		rep.add("harfanglab.token", true, CannotTell, "%v", err)
		return rep
	}
	if !probeHarfangLab(ctx, rep, h) {
		return rep
	}
	if opts.Write {
		probeWrite(ctx, rep, h)
	}
	return rep
}

func newHL(cfg Config, timeout time.Duration) (hl, error) {
	if cfg.HarfangLabURL == "" || cfg.HarfangLabToken == "" {
		return hl{}, fmt.Errorf("HARFANGLAB_URL or HARFANGLAB_TOKEN is not set")
	}
	c, err := harfanglab.NewClient(harfanglab.ClientConfig{
		URL: cfg.HarfangLabURL, Token: cfg.HarfangLabToken, Timeout: timeout,
		TLS: &tls.Config{InsecureSkipVerify: cfg.SkipVerify}, //nolint:gosec // the user's HARFANGLAB_SSL_VERIFY=false
	})
	if err != nil {
		return hl{}, err
	}
	return hl{c: c, cfg: cfg}, nil
}

// probeSettings reports the settings themselves: missing or unreadable variables.
func probeSettings(rep *Report, cfg Config) {
	if len(cfg.problems) > 0 {
		rep.add("settings", true, Differs, "%s", strings.Join(cfg.problems, "; "))
	} else {
		tlsNote := "TLS verified"
		if cfg.SkipVerify {
			tlsNote = "HarfangLab TLS NOT verified (HARFANGLAB_SSL_VERIFY=false)"
		}
		rep.add("settings", true, OK, "stream %q, list %q, maturity %s, %s", cfg.StreamID, cfg.SourceList, cfg.Maturity, tlsNote)
	}
	if p := cfg.connectorIDProblem(); p != "" {
		rep.add("settings.connector_id", false, Differs, "%s: the detections pull (harfanglab-to-opencti.yaml) will not start", p)
	}
}

// Command is the `check` subcommand of the binary.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "Check the OpenCTI and HarfangLab of this environment before the first start",
		Description: "Reads the pipelines' environment variables (OPENCTI_URL, OPENCTI_TOKEN,\n" +
			"HARFANGLAB_URL, HARFANGLAB_TOKEN, ...), probes both servers and prints one line per\n" +
			"probe: ok, differs (with the answer) or cannot tell. Read-only unless --write, which\n" +
			"creates, changes and deletes one IOC, one Sigma rule and one YARA file in temporary\n" +
			"lists named " + ListPrefix + "<random> and deletes them. Exits 1 if a required probe\n" +
			"(marked *) is not ok. No token is ever printed: attach the report to bug reports.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "write", Usage: "also write to HarfangLab, inside temporary lists it deletes afterwards"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "timeout of one request"},
		},
		Action: func(c *cli.Context) error {
			// An interrupt ends the probes early but still lets --write delete its lists (the
			// clean-up runs on a context of its own).
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			failed := Main(ctx, c.App.Writer, os.LookupEnv, Options{Write: c.Bool("write"), RequestTimeout: c.Duration("timeout")})
			if failed > 0 {
				return cli.Exit(fmt.Sprintf("check: %d required probe(s) not ok", failed), 1)
			}
			return nil
		},
	}
}

// Main runs the check with the environment of lookup, prints the report to out and returns the
// number of required probes that are not ok.
func Main(ctx context.Context, out io.Writer, lookup func(string) (string, bool), opts Options) int {
	cfg := ConfigFromEnv(lookup)
	mode := "read-only"
	if opts.Write {
		mode = "with --write (temporary lists, deleted at the end)"
	}
	rep := Run(ctx, cfg, opts)
	rep.Write(out,
		fmt.Sprintf("opencti-harfanglab check, %s, %s", mode, time.Now().UTC().Format(time.RFC3339)),
		"OpenCTI    "+displayURL(cfg.OpenCTIURL),
		"HarfangLab "+displayURL(cfg.HarfangLabURL),
		"")
	return len(rep.Failed())
}
