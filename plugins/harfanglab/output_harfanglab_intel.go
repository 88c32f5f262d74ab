package harfanglab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Jeffail/shutdown"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/metricbuf"
)

const (
	hioFieldSourceListName  = "source_list_name"
	hioFieldRemoveIndicator = "remove_indicator"
	hioFieldMaxInFlight     = "max_in_flight"
	hioFieldDryRun          = "dry_run"
	hioFieldExpiryInterval  = "expiry_check_interval"
	hioFieldShardIndex      = "shard_index"
	hioFieldShardCount      = "shard_count"
)

func intelOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Version("1.0.0").
		Summary("Applies intel changes (from `stix_to_harfanglab`) to HarfangLab's threat-intelligence lists, idempotently.").
		Description(`
Each message is one intel change: the desired state of one claim (an owner indicator and what
brings the values: its own pattern or a based-on relationship). At connect the output finds or
creates the IOC, Sigma and YARA lists named `+"`source_list_name`"+` (exact name only: another list is
never adopted) and loads everything they hold into memory, so steady-state writes need no lookup
request.

Ownership is recorded in each IOC rule's `+"`comment`"+` JSON (`+"`indicator_ids`"+`, plus `+"`indicator_id`"+` and
`+"`indicator_score`"+` as the older connectors wrote). A value owned by several indicators stays until
its last owner goes; then it is deleted (`+"`remove_indicator: true`"+`) or disabled. Entries whose comment
is not ours (typed by an analyst, another tool) are never modified or deleted.

Sigma rules and YARA files are named `+"`<indicator name>[ (until <valid_until>)] [<owner>]`"+`: the
name is the field HarfangLab is known to keep (it drops `+"`description`"+`), so the owner and its expiry
survive a restart. HarfangLab keeps one Sigma rule per Sigma `+"`id`"+` across all lists: indicators
carrying the same rule share one entry (named after its first owner), and a rule already present in
another list is reported (`+"`harfanglab_intel_conflicts_total`"+`, a log line naming the list, the
dead letter) and left alone. Stored Sigma content is compared parsed (HarfangLab re-serialises
the YAML), so a restart and full replay write nothing. Upload answers are read from their
`+"`status`"+` list whatever its JSON types; refusals and PATCH `+"`errors`"+` carry HarfangLab's reason.
Disabling sends `+"`global_state: disabled`"+` beside `+"`enabled: false`"+`.

Writes to one value are applied in order; different values are written concurrently up to
`+"`max_in_flight`"+`. HarfangLab 429 (honouring `+"`Retry-After`"+`), 5xx, timeouts and network errors are retried
inside the output until they succeed, so only changes HarfangLab refuses for good (validation
errors, e.g. an IOC value format, with HarfangLab's reason) fail: route them to a dead-letter
output with `+"`fallback`"+`. A refused token (401/403) is a configuration error, not a bad change: the
output reports itself not connected (`+"`/ready`"+` false, one log line naming `+"`HARFANGLAB_TOKEN`"+`), probes
the token with back-off and resumes with the waiting changes once HarfangLab accepts it. An indicator whose `+"`valid_until`"+`
passes is removed with no event (checked every `+"`expiry_check_interval`"+`).`).
		Fields(ClientFields()...).
		Fields(
			service.NewStringField(hioFieldSourceListName).
				Description("Name of the three HarfangLab lists (IOC, Sigma, YARA) the connector owns.").
				Default("from_OpenCTI"),
			service.NewBoolField(hioFieldRemoveIndicator).
				Description("When an entry loses its last owner: `true` deletes it, `false` disables it.").
				Default(true),
			service.NewIntField(hioFieldMaxInFlight).
				Description("Maximum number of changes applied at once (and of concurrent HarfangLab requests).").
				Default(32),
			service.NewBoolField(hioFieldDryRun).
				Description("Log the writes the output would make and make none (lists are not created either).").
				Default(false),
			service.NewDurationField(hioFieldExpiryInterval).
				Description("How often expired indicators (`valid_until` passed) are looked for.").
				Default("5s").
				Advanced(),
			service.NewIntField(hioFieldShardCount).
				Description("Scale-out: number of writers applying the same change stream (each reads every change). Only the first writer creates the lists.").
				Default(1).
				Advanced(),
			service.NewIntField(hioFieldShardIndex).
				Description("Scale-out: this writer's index, from 0 to `shard_count` - 1; it writes the values that hash to it.").
				Default(0).
				Advanced(),
		).
		Fields(sweepFields()...).
		Example("Push OpenCTI indicators to HarfangLab, dead-lettering refused changes", "", `
output:
  fallback:
    - harfanglab_intel:
        url: https://hl.example.com
        token: ${HARFANGLAB_TOKEN}
        source_list_name: from_OpenCTI
        remove_indicator: true
    - file:
        path: ./state/dead-letter.jsonl
        codec: lines
`)
}

func init() {
	service.MustRegisterOutput("harfanglab_intel", intelOutputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Output, int, error) {
			o, err := newIntelOutput(conf, mgr)
			if err != nil {
				return nil, 0, err
			}
			return o, o.maxInFlight, nil
		})
}

type intelMetrics struct {
	writes    *metricbuf.Counter // per write: coalesced (plugins/metricbuf)
	rejected  *service.MetricCounter
	entries   *metricbuf.Gauge
	expired   *service.MetricCounter
	conflicts *service.MetricCounter
}

// intelOutput is the harfanglab_intel output.
type intelOutput struct {
	client          *Client
	log             *service.Logger
	sourceListName  string
	removeIndicator bool
	maxInFlight     int
	dryRun          bool
	expiryInterval  time.Duration
	shard           shard
	sweeper         *sweeper // see intel_sweep.go
	m               intelMetrics
	now             func() time.Time

	sem chan struct{} // bounds concurrent HarfangLab requests

	connMu sync.Mutex
	idx    *index

	authFailed   atomic.Bool  // HarfangLab refused the token: writes wait for Connect
	authAttempts atomic.Int32 // reconnections since the last successful write (back-off)

	dryIDs    sync.Mutex
	dryNextID int

	shut      *shutdown.Signaller
	startOnce sync.Once
	closeOnce sync.Once
}

func newIntelOutput(conf *service.ParsedConfig, mgr *service.Resources) (*intelOutput, error) {
	cc, err := ClientConfigFromParsed(conf, mgr)
	if err != nil {
		return nil, err
	}
	// Transient failures are retried until they succeed or the stream stops: a change must
	// never reach the dead-letter route because HarfangLab was briefly unavailable.
	cc.MaxRetries = -1
	client, err := NewClient(cc)
	if err != nil {
		return nil, err
	}
	o := &intelOutput{client: client, log: mgr.Logger(), now: time.Now, shut: shutdown.NewSignaller()}
	if o.sourceListName, err = conf.FieldString(hioFieldSourceListName); err != nil {
		return nil, err
	}
	if o.sourceListName == "" {
		return nil, fmt.Errorf("field %s must not be empty: the connector would not know which lists it owns", hioFieldSourceListName)
	}
	if len([]rune(o.sourceListName)) > 100 {
		return nil, fmt.Errorf("field %s is longer than HarfangLab's 100 characters", hioFieldSourceListName)
	}
	if o.removeIndicator, err = conf.FieldBool(hioFieldRemoveIndicator); err != nil {
		return nil, err
	}
	if o.maxInFlight, err = conf.FieldInt(hioFieldMaxInFlight); err != nil {
		return nil, err
	}
	if o.maxInFlight < 1 {
		return nil, fmt.Errorf("field %s must be at least 1", hioFieldMaxInFlight)
	}
	if o.dryRun, err = conf.FieldBool(hioFieldDryRun); err != nil {
		return nil, err
	}
	if o.expiryInterval, err = conf.FieldDuration(hioFieldExpiryInterval); err != nil {
		return nil, err
	}
	if o.expiryInterval <= 0 || o.expiryInterval > 10*time.Second {
		return nil, fmt.Errorf("field %s must be between 0 and 10s (expired indicators must go within a minute)", hioFieldExpiryInterval)
	}
	if o.shard.count, err = conf.FieldInt(hioFieldShardCount); err != nil {
		return nil, err
	}
	if o.shard.index, err = conf.FieldInt(hioFieldShardIndex); err != nil {
		return nil, err
	}
	if o.shard.count < 1 || o.shard.index < 0 || o.shard.index >= o.shard.count {
		return nil, fmt.Errorf("fields %s (%d) and %s (%d): want 0 <= %s < %s", hioFieldShardIndex, o.shard.index, hioFieldShardCount, o.shard.count, hioFieldShardIndex, hioFieldShardCount)
	}
	o.sem = make(chan struct{}, o.maxInFlight)
	met := mgr.Metrics()
	if o.sweeper, err = newSweeper(conf, met); err != nil {
		return nil, err
	}
	o.m = intelMetrics{
		writes:    metricbuf.NewCounter(met.NewCounter("harfanglab_intel_writes_total", "op"), 1),
		rejected:  met.NewCounter("harfanglab_intel_rejected_total"),
		entries:   metricbuf.NewGauge(met.NewGauge("harfanglab_intel_index_entries"), 0),
		expired:   met.NewCounter("harfanglab_intel_expired_total"),
		conflicts: met.NewCounter("harfanglab_intel_conflicts_total"),
	}
	return o, nil
}

// Connect finds or creates the three lists and loads what they hold into the index.
func (o *intelOutput) Connect(ctx context.Context) error {
	o.connMu.Lock()
	defer o.connMu.Unlock()
	if o.idx != nil {
		if o.authFailed.Load() {
			return o.reconnectAuth(ctx)
		}
		return nil
	}
	if err := o.load(ctx); err != nil {
		if IsAuthFailure(err) {
			return authError(err)
		}
		return err
	}
	o.startOnce.Do(func() { go o.expiryLoop() })
	return nil
}

// load finds or creates the three lists and fills a new index with what they hold.
func (o *intelOutput) load(ctx context.Context) error {
	start := o.now()
	ix := newIndex()
	ix.shard = o.shard
	var err error
	for _, l := range []struct {
		path string
		id   *string
	}{{PathIOCSource, &ix.iocSource}, {PathSigmaSource, &ix.sigmaSource}, {PathYaraSource, &ix.yaraSource}} {
		if *l.id, err = o.findOrCreateSource(ctx, l.path); err != nil {
			return err
		}
	}
	var foreign int
	if ix.iocSource != "" {
		n, err := ix.loadIOCs(ctx, o.client)
		if err != nil {
			return fmt.Errorf("loading the IOC list: %w", err)
		}
		foreign += n
	}
	for _, r := range []struct{ kind, path, source string }{
		{intel.RuleSigma, PathSigmaRule, ix.sigmaSource}, {intel.RuleYara, PathYaraFile, ix.yaraSource},
	} {
		if r.source == "" {
			continue
		}
		n, err := ix.loadRules(ctx, o.client, r.kind, r.path, r.source)
		if err != nil {
			return fmt.Errorf("loading the %s list: %w", r.kind, err)
		}
		foreign += n
	}
	if foreign > 0 {
		o.log.Warnf("%d entries of the %q lists were not created by this connector (no owner in their comment or name); they will never be modified", foreign, o.sourceListName)
	}
	o.idx = ix
	o.m.entries.Set(ix.live.Load())
	o.log.Infof("HarfangLab lists %q loaded: %d entries, %d owners, in %v", o.sourceListName, ix.live.Load(), ix.owners.len(), o.now().Sub(start).Round(time.Millisecond))
	return nil
}

func (o *intelOutput) findOrCreateSource(ctx context.Context, path string) (string, error) {
	id, err := findSource(ctx, o.client, path, o.sourceListName)
	if err != nil || id != "" {
		if err != nil {
			err = fmt.Errorf("finding list %q: %w", o.sourceListName, err)
		}
		return id, err
	}
	if o.dryRun {
		o.log.Infof("dry run: would create list %q (%s)", o.sourceListName, path)
		return "", nil
	}
	if o.shard.index != 0 { // two writers creating the same list at once would make two lists
		return "", fmt.Errorf("list %q (%s) does not exist yet: waiting for writer 0 to create it", o.sourceListName, path)
	}
	var created struct{ ID string }
	body := map[string]any{"name": o.sourceListName, "description": sourceDescription, "enabled": true}
	if err := o.client.Post(ctx, path, body, &created); err != nil {
		if IsDuplicate(err) { // created meanwhile by another instance
			return findSource(ctx, o.client, path, o.sourceListName)
		}
		return "", fmt.Errorf("creating list %q: %w", o.sourceListName, err)
	}
	if created.ID == "" {
		return "", fmt.Errorf("creating list %q: HarfangLab answered no id", o.sourceListName)
	}
	o.log.Infof("created HarfangLab list %q (%s)", o.sourceListName, path)
	return created.ID, nil
}

// Write applies one intel change.
func (o *intelOutput) Write(ctx context.Context, msg *service.Message) error {
	o.connMu.Lock()
	ix := o.idx
	o.connMu.Unlock()
	if ix == nil {
		return service.ErrNotConnected
	}
	b, err := msg.AsBytes()
	if err != nil {
		o.m.rejected.Incr(1)
		return fmt.Errorf("reading message: %w", err)
	}
	c, err := intel.Decode(b)
	if err != nil {
		o.m.rejected.Incr(1)
		return err
	}
	if c.Control != "" {
		return o.control(ctx, ix, c)
	}
	s := ix.owner(ownerIDOf(c.Owner))
	o.sweeper.see(ix, s, c)
	if err := o.apply(ctx, ix, s, c, false); err != nil {
		if IsAuthFailure(err) {
			return o.onAuthFailure(err)
		}
		if ctx.Err() == nil {
			o.m.rejected.Incr(1)
		}
		return err
	}
	o.authAttempts.Store(0)
	if o.authFailed.CompareAndSwap(true, false) { // refused by the expiry loop only, and fine now
		o.log.Infof("HarfangLab accepts the API token again: resuming the writes")
	}
	return nil
}

// Close stops the expiry loop. It is idempotent.
func (o *intelOutput) Close(ctx context.Context) error {
	o.closeOnce.Do(func() {
		o.m.writes.Flush()
		o.m.entries.Flush()
		o.client.FlushMetrics()
		o.shut.TriggerHardStop()
		// The expiry loop starts at the first Connect; with none, nothing is left to wait for.
		o.startOnce.Do(o.shut.TriggerHasStopped)
	})
	select {
	case <-o.shut.HasStoppedChan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire takes a request slot; callers release it with o.release().
func (o *intelOutput) acquire(ctx context.Context) error {
	select {
	case o.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *intelOutput) release() { <-o.sem }

// dryID invents an id for an entry a dry run pretends to create.
func (o *intelOutput) dryID() string {
	o.dryIDs.Lock()
	defer o.dryIDs.Unlock()
	o.dryNextID++
	return fmt.Sprintf("dry-run-%d", o.dryNextID)
}

// permanentError marks an error HarfangLab will answer the same way however often it is retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

var errReread = errors.New("entry changed in HarfangLab: re-read it")
