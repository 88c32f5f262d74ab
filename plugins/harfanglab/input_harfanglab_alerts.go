// Package alerts holds the harfanglab_alerts input: it polls HarfangLab security events
// (alerts) and threats, resolves the threat-intelligence rule behind each alert, and resumes
// from a cursor kept in a cache resource.
package harfanglab

import (
	"context"
	"errors"
	"fmt"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/detection"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Jeffail/checkpoint"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// Field names of the harfanglab_alerts input.
const (
	haFieldStatuses           = "statuses"
	haFieldAlertTypes         = "alert_types"
	haFieldMaturity           = "maturity"
	haFieldThreats            = "threats"
	haFieldPollInterval       = "poll_interval"
	haFieldStartDate          = "start_date"
	haFieldPageSize           = "page_size"
	haFieldResultWindow       = "result_window"
	haFieldSettleDelay        = "settle_delay"
	haFieldSourceListName     = "source_list_name"
	haFieldCheckpointCache    = "checkpoint_cache"
	haFieldCheckpointCacheKey = "checkpoint_cache_key"
)

// Metadata keys set on every message.
const (
	metaKind      = detection.MetaKind
	metaID        = "harfanglab_id"
	metaAlertType = "harfanglab_alert_type"
	metaStatus    = "harfanglab_status"
)

// knownStatuses are the security-event statuses HarfangLab uses.
var knownStatuses = map[string]bool{
	"new": true, "probable_false_positive": true, "investigating": true, "false_positive": true, "closed": true,
}

var alertTypeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// knownMaturities are the rule maturities HarfangLab tags alerts with (hl_status of the rule).
var knownMaturities = map[string]bool{"stable": true, "testing": true, "experimental": true}

// clientMaxRetries bounds the retries of one request inside the client; a poll that still fails
// is retried by the input itself after a back-off.
const clientMaxRetries = 5

func inputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Polls HarfangLab security events (alerts) and threats, with the rule that fired, and resumes from a persisted cursor.").
		Description(inputDescription()).
		Fields(ClientFields()...).
		Fields(inputFields()...).
		Example("Detections to a file", "", `
input:
  harfanglab_alerts:
    url: https://hl.example.com
    token: ${HARFANGLAB_TOKEN}
    statuses: [ new, investigating ]
    alert_types: [ sigma, yara, ioc ]
    checkpoint_cache: cursor
cache_resources:
  - label: cursor
    file:
      directory: ./state
output:
  file:
    path: ./alerts.jsonl
`)
}

// inputDescription documents the input (~ stands for a backquote).
func inputDescription() string {
	return strings.ReplaceAll(`
Lists ~/api/data/alert/alert/Alert/~ filtered by ~status~, ~alert_type~ and ~maturity~ in two
passes, each with its own cursor:

- **new alerts** by ~alert_time~ (~ordering=alert_time~): every alert once, whether or not it
  carries a ~last_update~ (HarfangLab sets it only once someone touches the alert);
- **changed alerts** by ~last_update~ (~ordering=last_update~): an alert already imported whose
  status changed later comes out again (an alert touched before the first pass reached it is
  left to that pass, so it is not sent twice).

With ~threats~, threats are listed by ~last_update~ from ~/api/data/alert/alert/Threat/~ on their
own cursor, each with its alerts (~threat_key~, same filters, newest first, at most 1000) and
its note. Time filters are sent as whole seconds (~2006-01-02T15:04:05Z~), as HarfangLab's own
clients do; objects newer than ~settle_delay~ are left for the next poll.

HarfangLab pages through at most 10 000 results per query (Elasticsearch result window). When
one second holds more (a bulk status change), that second is read again per status and alert
type; a combination still over the window is logged as an error and counted in
~harfanglab_alerts_window_truncated_total~, and the cursor moves on.

One message per alert:

~~~json
{"kind":"alert","alert":<alert object>,"rule":<matched rule or null>,"rule_type":"ioc|sigma|yara|",
 "indicator_ids":["<OpenCTI indicator ids from the rule's comment>"]}
~~~

and per threat:

~~~json
{"kind":"threat","threat":<threat object>,"alerts":[<its alerts>],"notes":[<its note>]}
~~~

The rule is looked up by the IOC value in ~msg~ (IOCRule), the rule name (SigmaRule) or the YARA file or
rule name (YaraFile), with a small cache; ~indicator_ids~ are only read from rules of the
~source_list_name~ lists. A failed lookup leaves ~rule~ null (warning). An object that cannot be
decoded becomes a message flagged with an error, so a ~switch~ on ~errored()~ can dead-letter it.

HarfangLab refusing the token (401/403) is not a bad message: the input disconnects, the
engine reconnects with back-off (~/ready~ is false meanwhile, each attempt logs one line naming
~HARFANGLAB_TOKEN~), and polling resumes where it stopped once the token works again.

### Metadata

- ~harfanglab_kind~: ~alert~ or ~threat~
- ~harfanglab_id~: the alert or threat id
- ~harfanglab_alert_type~, ~harfanglab_status~: of the alert or threat (when present)

### Delivery

At least once. Each cursor (the last time read plus the ids already read within that second, so
objects sharing a timestamp are neither skipped nor repeated) is written to the ~checkpoint_cache~
only once every message up to it is acknowledged. The cache must persist across restarts. Rule
lookups of one page run concurrently (8 at a time) and are cached (10 min; 1 min when absent). With
~auto_replay_nacks: false~ a rejected message holds the persisted cursor back until restart.`, "~", "`")
}

// inputFields are the input's own fields (after the client's).
func inputFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringListField(haFieldStatuses).
			Description("Security-event statuses to import (`new`, `probable_false_positive`, `investigating`, `false_positive`, `closed`). An item may be a comma list.").
			Default([]any{"new", "investigating"}),
		service.NewStringListField(haFieldAlertTypes).
			Description("Alert types to import (e.g. `yara`, `sigma`, `ioc`). An item may be a comma list.").
			Default([]any{"yara", "sigma", "ioc"}),
		service.NewStringListField(haFieldMaturity).
			Description("Maturities of the rules whose alerts are imported (`stable`, `testing`, `experimental`; an item may be a comma list). The OpenCTI connectors import `stable` only; add `testing` to see rules still under evaluation.").
			Default([]any{"stable"}),
		service.NewBoolField(haFieldThreats).
			Description("Also import threats, each with its alerts and note.").
			Default(true),
		service.NewDurationField(haFieldPollInterval).
			Description("Time between two polls once caught up.").
			Default("60s"),
		service.NewStringField(haFieldStartDate).
			Description("Where the first run starts (RFC 3339 or a date); empty means 24 hours before the first start. Ignored once a cursor exists.").
			Default("").
			Example("2024-01-01T00:00:00Z"),
		service.NewIntField(haFieldPageSize).
			Description("Objects per list request.").
			Default(100).
			Advanced(),
		service.NewIntField(haFieldResultWindow).
			Description("The deepest position HarfangLab's lists page to (`offset + limit`): Elasticsearch's `index.max_result_window` of the console, 10 000 unless its administrator changed it. Seconds holding more alerts than this are read slice by slice (status × alert type).").
			Default(defaultResultWindow).
			Advanced(),
		service.NewDurationField(haFieldSettleDelay).
			Description("Objects newer than this are left for the next poll: HarfangLab keeps alerts in Elasticsearch, where a document becomes searchable only after a refresh (and agents may upload late), and the cursor must not pass one that is not visible yet. HarfangLab's SDK stays at least 120 s behind now.").
			Default("2m"),
		service.NewStringField(haFieldSourceListName).
			Description("Name of the threat-intelligence lists the intel push writes; their rules carry the OpenCTI indicator ids in their comment.").
			Default("from_OpenCTI"),
		service.NewStringField(haFieldCheckpointCache).
			Description("A cache resource where the cursor is kept; it must persist across restarts."),
		service.NewStringField(haFieldCheckpointCacheKey).
			Description("The key of the cursor in the cache.").
			Default("harfanglab_alerts").
			Advanced(),
		service.NewAutoRetryNacksToggleField(),
	}
}

func init() {
	service.MustRegisterInput("harfanglab_alerts", inputSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.Input, error) {
		in, err := newAlertsInput(conf, mgr)
		if err != nil {
			return nil, err
		}
		return service.AutoRetryNacksToggled(conf, in)
	})
}

// inputConfig is the parsed configuration.
type inputConfig struct {
	client       ClientConfig
	statuses     []string
	alertTypes   []string
	maturity     []string
	threats      bool
	pollInterval time.Duration
	startDate    time.Time // zero: 24 h before the first start
	pageSize     int
	resultWindow int
	settleDelay  time.Duration
	sourceName   string
	cache        string
	cacheKey     string
}

func parseInputConfig(conf *service.ParsedConfig, mgr *service.Resources) (inputConfig, error) {
	var c inputConfig
	var err error
	if c.client, err = ClientConfigFromParsed(conf, mgr); err != nil {
		return c, err
	}
	c.client.MaxRetries = clientMaxRetries
	if c.statuses, err = commaList(conf, haFieldStatuses); err != nil {
		return c, err
	}
	for _, s := range c.statuses {
		if !knownStatuses[s] {
			return c, fmt.Errorf("field %s: unknown status %q (want new, probable_false_positive, investigating, false_positive or closed)", haFieldStatuses, s)
		}
	}
	if c.alertTypes, err = commaList(conf, haFieldAlertTypes); err != nil {
		return c, err
	}
	for _, t := range c.alertTypes {
		if !alertTypeName.MatchString(t) {
			return c, fmt.Errorf("field %s: %q is not an alert type name", haFieldAlertTypes, t)
		}
	}
	if c.maturity, err = commaList(conf, haFieldMaturity); err != nil {
		return c, err
	}
	for _, m := range c.maturity {
		if !knownMaturities[m] {
			return c, fmt.Errorf("field %s: unknown maturity %q (want stable, testing or experimental)", haFieldMaturity, m)
		}
	}
	if c.threats, err = conf.FieldBool(haFieldThreats); err != nil {
		return c, err
	}
	if c.pollInterval, err = conf.FieldDuration(haFieldPollInterval); err != nil {
		return c, err
	}
	if c.pollInterval <= 0 {
		return c, fmt.Errorf("field %s must be positive", haFieldPollInterval)
	}
	start, err := conf.FieldString(haFieldStartDate)
	if err != nil {
		return c, err
	}
	if start = strings.TrimSpace(start); start != "" {
		if c.startDate, err = parseTime(start); err != nil {
			return c, fmt.Errorf("field %s: %w", haFieldStartDate, err)
		}
	}
	if c.pageSize, err = conf.FieldInt(haFieldPageSize); err != nil {
		return c, err
	}
	if c.resultWindow, err = conf.FieldInt(haFieldResultWindow); err != nil {
		return c, err
	}
	if c.pageSize < 1 || c.pageSize > c.resultWindow {
		return c, fmt.Errorf("field %s must be between 1 and %s (%d), got %d", haFieldPageSize, haFieldResultWindow, c.resultWindow, c.pageSize)
	}
	if c.settleDelay, err = conf.FieldDuration(haFieldSettleDelay); err != nil {
		return c, err
	}
	if c.settleDelay < 0 {
		return c, fmt.Errorf("field %s must not be negative", haFieldSettleDelay)
	}
	if c.sourceName, err = conf.FieldString(haFieldSourceListName); err != nil {
		return c, err
	}
	if c.cache, err = conf.FieldString(haFieldCheckpointCache); err != nil {
		return c, err
	}
	if c.cacheKey, err = conf.FieldString(haFieldCheckpointCacheKey); err != nil {
		return c, err
	}
	if c.cacheKey == "" {
		return c, fmt.Errorf("field %s must not be empty", haFieldCheckpointCacheKey)
	}
	return c, nil
}

// commaList reads a string list whose items may themselves be comma lists (environment
// variables such as `new,investigating`), trimmed, lower-cased, without empties or repeats.
func commaList(conf *service.ParsedConfig, field string) ([]string, error) {
	items, err := conf.FieldStringList(field)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, item := range items {
		for _, v := range strings.Split(item, ",") {
			v = strings.ToLower(strings.TrimSpace(v))
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("field %s must name at least one value", field)
	}
	return out, nil
}

// alertsInput implements service.Input. Read runs on one goroutine; acks arrive concurrently.
type alertsInput struct {
	conf     inputConfig
	mgr      *service.Resources
	log      *service.Logger
	client   *Client
	resolver *ruleResolver
	metrics  inputMetrics
	now      func() time.Time

	// Read-goroutine state: the passes of one poll, in order (new alerts, changed alerts,
	// threats).
	passes   []*pass
	buf      []pendingMessage
	polling  bool
	nextPoll time.Time
	failures int

	connectMu sync.Mutex
	loaded    bool

	// Commit state, guarded by commitMu: what is persisted.
	commitMu  sync.Mutex
	committed cursorState
	dirty     bool

	closeOnce sync.Once
}

// Pass names: which cursor of cursorState a pass moves (also the cursor-age metric label).
const (
	passCreated = "alert"
	passUpdated = "alert_update"
	passThreats = "threat"
)

// pass is one ordered listing with its own cursor and checkpointer.
type pass struct {
	name string
	kind string // message kind: detection.KindAlert or detection.KindThreat
	p    *pager
	cp   *checkpoint.Capped[streamCursor]
}

// cursorOf returns the cursor of the named pass in st.
func (st *cursorState) cursorOf(name string) *streamCursor {
	switch name {
	case passCreated:
		return &st.Created
	case passUpdated:
		return &st.Updated
	}
	return &st.Threats
}

type pendingMessage struct {
	msg *service.Message
	ack service.AckFunc
}

func newAlertsInput(conf *service.ParsedConfig, mgr *service.Resources) (*alertsInput, error) {
	c, err := parseInputConfig(conf, mgr)
	if err != nil {
		return nil, err
	}
	if !mgr.HasCache(c.cache) {
		return nil, fmt.Errorf("field %s: cache resource %q does not exist", haFieldCheckpointCache, c.cache)
	}
	client, err := NewClient(c.client)
	if err != nil {
		return nil, err
	}
	return &alertsInput{
		conf:     c,
		mgr:      mgr,
		log:      mgr.Logger(),
		client:   client,
		resolver: newRuleResolver(client, c.sourceName),
		metrics:  newInputMetrics(mgr.Metrics()),
		now:      time.Now,
	}, nil
}

// newPasses builds the passes from the persisted cursors.
func (in *alertsInput) newPasses(st cursorState) []*pass {
	capacity := int64(max(1024, 8*in.conf.pageSize))
	mk := func(name, kind, path, field string, filters url.Values) *pass {
		p := newPager(path, field, filters, in.conf.pageSize, *st.cursorOf(name))
		p.window = in.conf.resultWindow
		p.truncated = func(second time.Time, slice url.Values) {
			in.metrics.windowTruncated.Incr(1, name)
			in.log.Errorf("HarfangLab holds more than %d %ss at %s for %s: the ones past the result window cannot be listed and are skipped", in.conf.resultWindow, kind, formatTime(second), slice.Encode())
		}
		return &pass{name: name, kind: kind, p: p, cp: checkpoint.NewCapped[streamCursor](capacity)}
	}
	created := mk(passCreated, detection.KindAlert, PathAlerts, apiAlertTime, in.alertFilters())
	updated := mk(passUpdated, detection.KindAlert, PathAlerts, apiLastUpdate, in.alertFilters())
	updated.p.reportBad = false // the new-alerts pass reports malformed alerts
	passes := []*pass{created, updated}
	if in.conf.threats {
		passes = append(passes, mk(passThreats, detection.KindThreat, PathThreats, apiLastUpdate, nil))
	}
	return passes
}

// Connect loads the cursor once (or creates the first one from start_date) and checks that
// HarfangLab accepts the token.
func (in *alertsInput) Connect(ctx context.Context) error {
	in.connectMu.Lock()
	defer in.connectMu.Unlock()
	if !in.loaded {
		st, err := in.loadCursor(ctx)
		if err != nil {
			return err
		}
		in.commitMu.Lock()
		in.committed = st
		in.commitMu.Unlock()
		in.passes = in.newPasses(st)
		in.loaded = true
	}
	var probe struct {
		Count int `json:"count"`
	}
	if err := in.client.Get(ctx, PathAlerts, url.Values{"limit": {"1"}}, &probe); err != nil {
		if IsAuthFailure(err) {
			return authError(err)
		}
		return fmt.Errorf("checking access to HarfangLab security events: %w", err)
	}
	return nil
}

// loadCursor reads the persisted cursor; on the first run it starts at start_date (or 24 h ago)
// and persists that start at once, so a restart before any alert keeps the same start.
func (in *alertsInput) loadCursor(ctx context.Context) (cursorState, error) {
	var raw []byte
	var getErr error
	if err := in.mgr.AccessCache(ctx, in.conf.cache, func(c service.Cache) {
		raw, getErr = c.Get(ctx, in.conf.cacheKey)
	}); err != nil {
		return cursorState{}, fmt.Errorf("accessing cache %q: %w", in.conf.cache, err)
	}
	if getErr == nil {
		st, err := decodeCursor(raw)
		if err != nil {
			return st, fmt.Errorf("cursor %q in cache %q: %w (delete it to start again from %s)", in.conf.cacheKey, in.conf.cache, err, haFieldStartDate)
		}
		return st, nil
	}
	if !errors.Is(getErr, service.ErrKeyNotFound) {
		return cursorState{}, fmt.Errorf("reading cursor %q from cache %q: %w", in.conf.cacheKey, in.conf.cache, getErr)
	}
	start := in.conf.startDate
	if start.IsZero() {
		start = in.now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	}
	st := cursorState{Version: cursorVersion, Created: streamCursor{Since: start}, Updated: streamCursor{Since: start}, Threats: streamCursor{Since: start}}
	if err := in.writeCursor(ctx, st); err != nil {
		return st, err
	}
	in.log.Infof("No cursor in cache %q: importing HarfangLab security events since %s", in.conf.cache, formatTime(start))
	return st, nil
}

func (in *alertsInput) writeCursor(ctx context.Context, st cursorState) error {
	b, err := st.encode()
	if err != nil {
		return err
	}
	var setErr error
	if err := in.mgr.AccessCache(ctx, in.conf.cache, func(c service.Cache) {
		setErr = c.Set(ctx, in.conf.cacheKey, b, nil)
	}); err != nil {
		return fmt.Errorf("accessing cache %q: %w", in.conf.cache, err)
	}
	if setErr != nil {
		return fmt.Errorf("writing cursor %q to cache %q: %w", in.conf.cacheKey, in.conf.cache, setErr)
	}
	return nil
}

// Read hands out buffered messages, fetching the next page (or waiting for the next poll) when
// none is left. It never returns an empty message: it blocks until one exists or ctx ends.
func (in *alertsInput) Read(ctx context.Context) (*service.Message, service.AckFunc, error) {
	if in.passes == nil {
		return nil, nil, service.ErrNotConnected
	}
	for len(in.buf) == 0 {
		if err := in.fill(ctx); err != nil {
			return nil, nil, err
		}
	}
	m := in.buf[0]
	in.buf[0] = pendingMessage{}
	in.buf = in.buf[1:]
	return m.msg, m.ack, nil
}

// fill makes progress on the current poll: one page of the first pass not caught up, or the
// wait for the next poll. Errors from HarfangLab are retried here after a back-off so that a
// down server gives one log line per attempt, not a tight loop; a refused token disconnects
// the input instead (the engine reconnects with back-off and /ready turns false).
func (in *alertsInput) fill(ctx context.Context) error {
	if !in.polling {
		if err := sleepUntil(ctx, in.nextPoll); err != nil {
			return err
		}
		in.startPoll()
	}
	var cur *pass
	for _, ps := range in.passes {
		if !ps.p.caughtUp {
			cur = ps
			break
		}
	}
	if cur == nil {
		in.polling = false
		in.updateCursorAge()
		return nil
	}
	err := in.fetchPage(ctx, cur)
	if err == nil {
		in.failures = 0
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	in.metrics.pollErrors.Incr(1, cur.kind)
	if IsAuthFailure(err) {
		in.log.Errorf("Polling HarfangLab %ss stopped: %v", cur.kind, authError(err))
		in.polling = false // the page is read again once reconnected
		return service.ErrNotConnected
	}
	in.failures++
	wait := min(in.conf.pollInterval, time.Second<<min(in.failures-1, 10))
	in.log.Errorf("Polling HarfangLab %ss failed (attempt %d, next in %v): %v", cur.kind, in.failures, wait, err)
	return sleepUntil(ctx, in.now().Add(wait))
}

// startPoll begins a poll: every pass from its cursor up to now − settle_delay.
func (in *alertsInput) startPoll() {
	in.polling = true
	in.nextPoll = in.now().Add(in.conf.pollInterval)
	var until time.Time
	if in.conf.settleDelay > 0 {
		until = in.now().Add(-in.conf.settleDelay)
	} else {
		until = in.now()
	}
	for _, ps := range in.passes {
		ps.p.restart(until)
	}
	in.metrics.polls.Incr(1)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close has nothing to release: pending acks are drained by the engine before it is called.
func (in *alertsInput) Close(ctx context.Context) error {
	in.closeOnce.Do(func() {
		in.commitMu.Lock()
		defer in.commitMu.Unlock()
		if in.dirty {
			if err := in.writeCursor(ctx, in.committed); err == nil {
				in.dirty = false
			}
		}
	})
	return nil
}
