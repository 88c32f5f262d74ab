package detections

import (
	"context"
	"fmt"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/detection"
	"strconv"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Field names of harfanglab_to_stix.
const (
	htsFieldAuthorName          = "author_name"
	htsFieldMarking             = "marking"
	htsFieldDefaultScore        = "default_score"
	htsFieldCreateIncidents     = "create_incidents"
	htsFieldCreateCaseIncidents = "create_case_incidents"
	htsFieldHarfangLabURL       = "harfanglab_url"
)

func harfangLabToSTIXSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Version("0.1.0").
		Categories("Parsing").
		Summary("Turns a HarfangLab alert or threat (from `harfanglab_alerts`) into a STIX 2.1 bundle for OpenCTI.").
		Description(`
Input: the messages of the `+"`harfanglab_alerts`"+` input, one JSON document per alert
(`+"`{\"kind\":\"alert\",\"alert\":{...},\"rule\":{...}|null,\"rule_type\":\"ioc|sigma|yara|\",\"indicator_ids\":[...]}`"+`)
or per threat (`+"`{\"kind\":\"threat\",\"threat\":{...},\"alerts\":[...],\"notes\":[...]}`"+`).
Output: the same message with its body replaced by one STIX 2.1 bundle.

An alert becomes an Incident with the host (System identity and Hostname), the process File,
Directory and User-Account, the IOC observable, ATT&CK techniques from its tags, and a Sighting
of the OpenCTI indicator behind the matched rule (from `+"`indicator_ids`"+`) or of an
indicator built from the rule (Sigma, YARA or a STIX pattern for IOCs). A threat becomes a
Case-Incident gathering the incidents of its alerts, its host and its notes.

Ids equal pycti's for the same inputs, so re-importing an alert (e.g. after a status change)
updates the same objects in OpenCTI. Every object carries the author and the marking.

A field that cannot be converted is left out with a warning; an alert or threat with nothing
usable (no date) fails with an error on that message. With `+"`create_incidents: false`"+`
alert messages are dropped; with `+"`create_case_incidents: false`"+` threat messages are.`).
		Fields(
			service.NewStringField(htsFieldAuthorName).
				Description("Name of the organization identity set as author (`created_by_ref`) of every object.").
				Default("HarfangLab"),
			service.NewStringField(htsFieldMarking).
				Description("TLP marking set on every object: one of `"+strings.Join(markingNames(), "`, `")+"` (case-insensitive; `TLP:WHITE` is `TLP:CLEAR`).").
				Default("TLP:CLEAR"),
			service.NewIntField(htsFieldDefaultScore).
				Description("`x_opencti_score` (0-100) of indicators built from HarfangLab rules.").
				Default(50),
			service.NewBoolField(htsFieldCreateIncidents).
				Description("Convert alerts into incidents and sightings.").
				Default(true),
			service.NewBoolField(htsFieldCreateCaseIncidents).
				Description("Convert threats into case incidents.").
				Default(true),
			service.NewStringField(htsFieldHarfangLabURL).
				Description("HarfangLab console URL, used for the links of external references (`<url>/security-event/<id>/summary`).").
				Default("").
				Example("https://hl.example.com"),
		).
		Example("Alerts to OpenCTI", "", `
pipeline:
  processors:
    - harfanglab_to_stix:
        author_name: HarfangLab
        marking: TLP:AMBER
        default_score: 50
        harfanglab_url: ${HARFANGLAB_URL}
`)
}

func init() {
	service.MustRegisterProcessor("harfanglab_to_stix", harfangLabToSTIXSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Processor, error) {
			return newHarfangLabToSTIX(conf, mgr)
		})
}

// harfangLabToSTIX is the harfanglab_to_stix processor.
type harfangLabToSTIX struct {
	conv                *converter
	createIncidents     bool
	createCaseIncidents bool
	log                 *service.Logger

	mBundles  *service.MetricCounter
	mWarnings *service.MetricCounter
	mErrors   *service.MetricCounter
	mSkipped  *service.MetricCounter
}

func newHarfangLabToSTIX(conf *service.ParsedConfig, mgr *service.Resources) (*harfangLabToSTIX, error) {
	author, err := conf.FieldString(htsFieldAuthorName)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(author) == "" {
		return nil, fmt.Errorf("field %s: the author name is empty (check CONNECTOR_NAME)", htsFieldAuthorName)
	}
	markingName, err := conf.FieldString(htsFieldMarking)
	if err != nil {
		return nil, err
	}
	m, err := lookupMarking(markingName)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w (check HARFANGLAB_DEFAULT_MARKINGS)", htsFieldMarking, err)
	}
	score, err := conf.FieldInt(htsFieldDefaultScore)
	if err != nil {
		return nil, err
	}
	if score < 0 || score > 100 {
		return nil, fmt.Errorf("field %s: %d is outside 0-100 (check HARFANGLAB_DEFAULT_SCORE)", htsFieldDefaultScore, score)
	}
	p := &harfangLabToSTIX{log: mgr.Logger()}
	if p.createIncidents, err = conf.FieldBool(htsFieldCreateIncidents); err != nil {
		return nil, err
	}
	if p.createCaseIncidents, err = conf.FieldBool(htsFieldCreateCaseIncidents); err != nil {
		return nil, err
	}
	hlURL, err := conf.FieldString(htsFieldHarfangLabURL)
	if err != nil {
		return nil, err
	}
	p.conv = newConverter(author, m, score, hlURL)
	met := mgr.Metrics()
	p.mBundles = met.NewCounter("harfanglab_to_stix_bundles_total", "kind")
	p.mWarnings = met.NewCounter("harfanglab_to_stix_warnings_total")
	p.mErrors = met.NewCounter("harfanglab_to_stix_errors_total")
	p.mSkipped = met.NewCounter("harfanglab_to_stix_skipped_total", "kind")
	return p, nil
}

// Process converts one message. A conversion failure is returned as the message's error. A
// message that arrives flagged with an error (e.g. an alert the input could not decode) passes
// through unchanged, so its original body and reason reach the dead-letter output.
func (p *harfangLabToSTIX) Process(_ context.Context, msg *service.Message) (service.MessageBatch, error) {
	if msg.GetError() != nil {
		p.mSkipped.Incr(1, "errored")
		return service.MessageBatch{msg}, nil
	}
	raw, err := msg.AsBytes()
	if err != nil {
		return nil, p.fail(fmt.Errorf("reading message: %w", err))
	}
	kind, _ := msg.MetaGetMut(detection.MetaKind)
	metaKind, _ := kind.(string)
	body, warnings, skipped, err := p.convert(raw, metaKind)
	for _, w := range warnings {
		p.log.Warn(w)
	}
	p.mWarnings.Incr(int64(len(warnings)))
	if err != nil {
		return nil, p.fail(err)
	}
	if skipped != "" {
		p.mSkipped.Incr(1, skipped)
		return nil, nil
	}
	out := msg.Copy()
	out.SetBytes(body)
	return service.MessageBatch{out}, nil
}

func (p *harfangLabToSTIX) fail(err error) error {
	p.mErrors.Incr(1)
	return fmt.Errorf("harfanglab_to_stix: %w", err)
}

// convert turns one input body into a bundle. skipped names the kind when the configuration
// turns that kind off.
func (p *harfangLabToSTIX) convert(raw []byte, metaKind string) (body []byte, warnings []string, skipped string, err error) {
	warn := func(w string) { warnings = append(warnings, w) }
	doc, err := detection.Decode(raw, warn)
	if err != nil {
		return nil, nil, "", err
	}
	kind := firstNonEmpty(doc.Kind, metaKind)
	b := newBundle()
	var seed string
	switch kind {
	case detection.KindAlert:
		if !p.createIncidents {
			return nil, nil, detection.KindAlert, nil
		}
		if _, err := p.conv.addAlert(b, alertInput{Alert: doc.Alert, Rule: doc.Rule, RuleType: doc.RuleType, IndicatorIDs: doc.IndicatorIDs}, true, warn); err != nil {
			return nil, warnings, "", err
		}
		seed = "harfanglab-alert:" + str(doc.Alert, "id")
	case detection.KindThreat:
		if !p.createCaseIncidents {
			return nil, nil, detection.KindThreat, nil
		}
		if err := p.conv.addThreat(b, threatInput{Threat: doc.Threat, Alerts: doc.Alerts, Notes: doc.Notes}, p.createIncidents, warn); err != nil {
			return nil, warnings, "", err
		}
		seed = "harfanglab-threat:" + str(doc.Threat, "id")
	default:
		return nil, nil, "", fmt.Errorf("unknown kind %s: expected %q or %q", strconv.Quote(kind), detection.KindAlert, detection.KindThreat)
	}
	body, err = b.marshal(seed)
	if err != nil {
		return nil, warnings, "", err
	}
	p.mBundles.Incr(1, kind)
	return body, warnings, "", nil
}

// Close releases nothing: the processor holds no resources.
func (p *harfangLabToSTIX) Close(context.Context) error { return nil }
