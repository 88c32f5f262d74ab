package stix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/metricbuf"
)

const (
	shFieldRuleMaturity      = "rule_maturity"
	shFieldMinScore          = "min_score"
	shFieldBlockMinScore     = "block_min_score"
	shFieldIgnoreAuthorNames = "ignore_author_names"
)

// Metadata keys read from the opencti_stream input and written for harfanglab_intel.
const (
	metaEvent   = "opencti_event"
	metaEventID = "opencti_event_id"
	metaOwner   = "harfanglab_owner"
)

// Drop reasons (metric label values).
const (
	dropEventType        = "event_type"
	dropObjectType       = "object_type"
	dropRelationshipType = "relationship_type"
	dropOwnAuthor        = "own_author"
)

// shDescription is the processor's documentation (metadata, behaviour, error handling).
const shDescription = "Takes the messages of the `opencti_stream` input (body: the event's `data:` JSON; metadata\n" +
	"`opencti_event` = create|update|delete|merge, which the processor dispatches on, and `opencti_event_id`)\n" +
	"and emits zero or more messages, each the JSON of one desired-state change of one claim (package\n" +
	"`plugins/intel`): the full set of IOCs, or the Sigma rule / YARA file, that one indicator (or one of its\n" +
	"based-on relationships) wants in HarfangLab. Metadata is kept and `harfanglab_owner` is set to the\n" +
	"owning indicator's id. The input's `snapshot_start` / `snapshot_end` markers (`snapshot_markers`) pass\n" +
	"through as intel control changes with their generation, for the output's sweep.\n\n" +
	"An indicator is live when it is not revoked, its detection flag is true, its `valid_until` is absent or in\n" +
	"the future and its score is at least `min_score`. STIX patterns are parsed with a complete STIX 2.1\n" +
	"patterning parser: IOCs come from `=` and `IN` on domain-name/hostname, ipv4/ipv6-addr, url, file:name\n" +
	"and file/artifact hashes (MD5, SHA-1, SHA-256, SHA-512, length checked); negations (`NOT EXISTS`\n" +
	"included) and other operators produce nothing (the debug log says which comparison and why);\n" +
	"within one observation a hash ANDed with file names keeps only the hash. Sigma and YARA\n" +
	"indicators become one rule each. Based-on relationships add the observable they point to. Merges remove\n" +
	"the absorbed indicators.\n\n" +
	"Events that concern nothing in HarfangLab (other object types, objects created by one of\n" +
	"`ignore_author_names`) are dropped (debug log, metric `stix_to_harfanglab_dropped_total`). A pattern that\n" +
	"does not parse or a value that fails validation is an error on that message: route it with `catch` or a\n" +
	"dead-letter output."

func stixToHarfangLabSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Version("1.0.0").
		Categories("Integration").
		Summary("Turns OpenCTI live-stream events into HarfangLab intel changes for the harfanglab_intel output.").
		Description(shDescription).
		Fields(
			service.NewStringEnumField(shFieldRuleMaturity, "stable", "testing").
				Description("HarfangLab `hl_status` written on every IOC, Sigma rule and YARA file.").
				Default("stable"),
			service.NewIntField(shFieldMinScore).
				Description("Indicators whose score is below this are not live (their entries are removed).").
				Default(0),
			service.NewIntField(shFieldBlockMinScore).
				Description("IOCs of indicators whose score is at or above this are created in blocking mode. Unset: never block.").
				Optional(),
			service.NewStringListField(shFieldIgnoreAuthorNames).
				Description("Organizations whose objects are never pushed (matched on created_by_ref by their pycti identity id): the author the detections pull writes as.").
				Default([]string{"HarfangLab"}).
				Advanced(),
		).
		Example("Intel push", "Translate the live stream, sending bad events to a log.", `
input:
  opencti_stream:
    url: ${OPENCTI_URL}
    token: ${OPENCTI_TOKEN}
pipeline:
  processors:
    - stix_to_harfanglab:
        rule_maturity: ${HARFANGLAB_RULE_MATURITY:stable}
        min_score: 0
    - catch:
        - log:
            level: ERROR
            message: 'untranslatable event ${! metadata("opencti_event_id") }: ${! error() }'
        - mapping: root = deleted()
`)
}

func init() {
	service.MustRegisterProcessor("stix_to_harfanglab", stixToHarfangLabSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Processor, error) {
			return newStixToHarfangLab(conf, mgr)
		})
}

type stixToHarfangLab struct {
	maturity       string
	minScore       int
	blockMinScore  *int
	ignoredAuthors map[string]struct{}
	now            func() time.Time

	log      *service.Logger
	mChanges *metricbuf.Counter // per message: coalesced (plugins/metricbuf)
	mDropped *service.MetricCounter
	mErrors  *service.MetricCounter
}

func newStixToHarfangLab(conf *service.ParsedConfig, mgr *service.Resources) (*stixToHarfangLab, error) {
	p := &stixToHarfangLab{
		now:            time.Now,
		ignoredAuthors: map[string]struct{}{},
		log:            mgr.Logger(),
		mChanges:       metricbuf.NewCounter(mgr.Metrics().NewCounter("stix_to_harfanglab_changes_total", "live"), 1),
		mDropped:       mgr.Metrics().NewCounter("stix_to_harfanglab_dropped_total", "reason"),
		mErrors:        mgr.Metrics().NewCounter("stix_to_harfanglab_errors_total", "reason"),
	}
	var err error
	if p.maturity, err = conf.FieldString(shFieldRuleMaturity); err != nil {
		return nil, err
	}
	if p.maturity != "stable" && p.maturity != "testing" {
		return nil, fmt.Errorf("%s must be stable or testing, not %q", shFieldRuleMaturity, p.maturity)
	}
	if p.minScore, err = conf.FieldInt(shFieldMinScore); err != nil {
		return nil, err
	}
	if conf.Contains(shFieldBlockMinScore) {
		v, err := conf.FieldInt(shFieldBlockMinScore)
		if err != nil {
			return nil, err
		}
		p.blockMinScore = &v
	}
	names, err := conf.FieldStringList(shFieldIgnoreAuthorNames)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if strings.TrimSpace(n) != "" {
			p.ignoredAuthors[organizationID(n)] = struct{}{}
		}
	}
	return p, nil
}

// Process translates one stream event into zero or more intel.Change messages.
func (p *stixToHarfangLab) Process(_ context.Context, msg *service.Message) (service.MessageBatch, error) {
	changes, reason, err := p.translateMessage(msg)
	if err != nil {
		p.mErrors.Incr(1, reason)
		if id, ok := msg.MetaGet(metaEventID); ok {
			return nil, fmt.Errorf("event %s: %w", id, err)
		}
		return nil, err
	}
	if len(changes) == 0 {
		p.mDropped.Incr(1, reason)
		return nil, nil
	}
	out := make(service.MessageBatch, 0, len(changes))
	for _, c := range changes {
		if err := c.Validate(); err != nil {
			p.mErrors.Incr(1, "invalid_change")
			return nil, err
		}
		m := msg
		if len(changes) > 1 { // one change (the usual case) takes the event's message over
			m = msg.Copy()
		}
		m.SetBytes(encodeChange(c))
		if c.Control != "" {
			m.MetaSet(metaOwner, c.Control) // a stable key (scale-out: one partition)
		} else {
			m.MetaSet(metaOwner, c.Owner)
		}
		out = append(out, m)
		p.mChanges.Incr(1, strconv.FormatBool(c.Live))
	}
	return out, nil
}

// translateMessage returns the changes of one message, or the reason it is dropped (no
// changes), or an error and its metric reason.
func (p *stixToHarfangLab) translateMessage(msg *service.Message) ([]*intel.Change, string, error) {
	eventType, ok := msg.MetaGet(metaEvent)
	if !ok {
		return nil, "metadata", errors.New("message has no " + metaEvent + " metadata (expected from the opencti_stream input)")
	}
	switch eventType {
	case "create", "update", "delete", "merge":
	case intel.ControlSnapshotStart, intel.ControlSnapshotEnd:
		return snapshotMarker(eventType, msg)
	default:
		p.log.Debugf("dropping OpenCTI %q event: not a change", eventType)
		return nil, dropEventType, nil
	}
	body, err := msg.AsBytes()
	if err != nil {
		return nil, "decode", fmt.Errorf("reading message: %w", err)
	}
	ev, err := decodeEvent(body)
	if err != nil {
		return nil, "decode", err
	}
	seq, _ := msg.MetaGet(metaEventID)
	return p.translate(eventType, seq, ev)
}

// snapshotMarker passes a snapshot marker of the opencti_stream input on to harfanglab_intel.
func snapshotMarker(kind string, msg *service.Message) ([]*intel.Change, string, error) {
	body, err := msg.AsBytes()
	if err != nil {
		return nil, "decode", fmt.Errorf("reading %s marker: %w", kind, err)
	}
	c := &intel.Change{Control: kind}
	if err := json.Unmarshal(body, c); err != nil {
		return nil, "decode", fmt.Errorf("decoding %s marker: %w", kind, err)
	}
	c.Control = kind
	return []*intel.Change{c}, "", nil
}

func (p *stixToHarfangLab) translate(eventType, seq string, ev *event) ([]*intel.Change, string, error) {
	d := ev.Data
	switch {
	case eventType == "merge":
		return p.translateMerge(seq, ev)
	case d.Type == "indicator":
		if p.ownAuthor(d) {
			p.log.Debugf("dropping indicator %s: created by our own detections pull", d.ID)
			return nil, dropOwnAuthor, nil
		}
		if eventType == "delete" {
			return []*intel.Change{p.deadIndicator(d, ev.Context, seq)}, "", nil
		}
		c, err := p.indicatorChange(d, ev.Context, seq)
		if err != nil {
			return nil, "indicator", err
		}
		return []*intel.Change{c}, "", nil
	case d.Type == "relationship":
		return p.translateRelationship(eventType, seq, d)
	}
	p.log.Debugf("dropping %s %s: not an indicator", d.Type, d.ID)
	return nil, dropObjectType, nil
}

func (p *stixToHarfangLab) ownAuthor(o *stixObject) bool {
	_, own := p.ignoredAuthors[o.CreatedByRef]
	return own
}

// translateMerge updates the merge target and removes every absorbed indicator.
func (p *stixToHarfangLab) translateMerge(seq string, ev *event) ([]*intel.Change, string, error) {
	var out []*intel.Change
	d := ev.Data
	if d.Type == "indicator" && !p.ownAuthor(d) {
		c, err := p.indicatorChange(d, ev.Context, seq)
		if err != nil {
			return nil, "indicator", err
		}
		out = append(out, c)
	}
	if ev.Context != nil {
		for i := range ev.Context.Sources {
			src := &ev.Context.Sources[i]
			if src.Type == "indicator" && src.owner() != "" {
				out = append(out, p.deadIndicator(src, nil, seq))
			}
		}
	}
	if len(out) == 0 {
		p.log.Debugf("dropping merge of %s %s: no indicator involved", d.Type, d.ID)
		return nil, dropObjectType, nil
	}
	return out, "", nil
}

// deadIndicator is the change that removes everything an indicator holds.
func (p *stixToHarfangLab) deadIndicator(d *stixObject, ctx *eventContext, seq string) *intel.Change {
	return &intel.Change{
		Owner: d.owner(), StixIDs: d.stixIDs(ctx), Via: intel.ViaPattern, Seq: seq,
		Name: d.Name, Score: d.score(), Maturity: p.maturity,
	}
}

// indicatorChange is the desired state of an indicator's own pattern claim.
func (p *stixToHarfangLab) indicatorChange(d *stixObject, ctx *eventContext, seq string) (*intel.Change, error) {
	c := p.deadIndicator(d, ctx, seq)
	if c.Owner == "" {
		return nil, errors.New("indicator has no id")
	}
	c.Description = d.Description
	c.Platforms = d.platforms()
	if d.ValidUntil != "" {
		t, err := time.Parse(time.RFC3339Nano, d.ValidUntil)
		if err != nil {
			return nil, fmt.Errorf("indicator %s: invalid valid_until %q", c.Owner, clip(d.ValidUntil))
		}
		t = t.UTC()
		c.ValidUntil = &t
	}
	live := !d.Revoked && d.detection() && (c.ValidUntil == nil || c.ValidUntil.After(p.now())) && c.Score >= p.minScore
	if !live {
		return c, nil
	}
	switch kind := strings.ToLower(d.PatternType); kind {
	case "stix":
		iocs, noIOC, err := patternIOCs(d.Pattern)
		if err != nil {
			return nil, fmt.Errorf("indicator %s (%q): %w", c.Owner, clip(d.Name), err)
		}
		if len(iocs) == 0 {
			p.log.Debugf("indicator %s: pattern names no value HarfangLab can match: %s", c.Owner, noIOC)
			return c, nil
		}
		if p.blockMinScore != nil && c.Score >= *p.blockMinScore {
			for i := range iocs {
				iocs[i].Block = true
			}
		}
		c.IOCs, c.Live = iocs, true
	case intel.RuleSigma, intel.RuleYara:
		if strings.TrimSpace(d.Pattern) == "" {
			p.log.Debugf("indicator %s: empty %s content", c.Owner, kind)
			return c, nil
		}
		c.Rule = &intel.Rule{Kind: kind, Name: d.Name, Content: d.Pattern}
		c.Live = true
	default:
		p.log.Debugf("indicator %s: pattern type %q has no HarfangLab counterpart", c.Owner, clip(d.PatternType))
	}
	return c, nil
}

// translateRelationship handles based-on relationships from an indicator to an observable: the
// observable is one more value owned by the indicator, claimed via the relationship's id.
func (p *stixToHarfangLab) translateRelationship(eventType, seq string, d *stixObject) ([]*intel.Change, string, error) {
	ext := d.Extensions.OpenCTI
	if d.RelationshipType != "based-on" {
		p.log.Debugf("dropping %s relationship %s", d.RelationshipType, d.ID)
		return nil, dropRelationshipType, nil
	}
	if ext == nil || ext.SourceType != "Indicator" {
		p.log.Debugf("dropping based-on relationship %s: source is not an indicator", d.ID)
		return nil, dropObjectType, nil
	}
	if p.ownAuthor(d) {
		p.log.Debugf("dropping relationship %s: created by our own detections pull", d.ID)
		return nil, dropOwnAuthor, nil
	}
	owner := ext.SourceRef
	if owner == "" {
		owner = d.SourceRef
	}
	via := ext.ID
	if via == "" {
		via = d.ID
	}
	if owner == "" || via == "" {
		return nil, "relationship", fmt.Errorf("based-on relationship %q has no id or no source", d.ID)
	}
	c := &intel.Change{Owner: owner, Via: via, Seq: seq, Name: ext.SourceValue, Maturity: p.maturity}
	if d.SourceRef != "" {
		c.StixIDs = []string{d.SourceRef}
	}
	if eventType == "delete" || d.Revoked {
		return []*intel.Change{c}, "", nil
	}
	ioc, ok, err := observableIOC(ext.TargetType, ext.TargetValue)
	if err != nil {
		return nil, "relationship", fmt.Errorf("based-on relationship %s of indicator %s: %w", via, owner, err)
	}
	if ok {
		c.IOCs, c.Live = []intel.IOC{ioc}, true
	}
	return []*intel.Change{c}, "", nil
}

// Close releases nothing: the processor holds no resources.
func (p *stixToHarfangLab) Close(context.Context) error {
	p.mChanges.Flush()
	return nil
}
