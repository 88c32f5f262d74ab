package opencti

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
)

// Field names of the opencti output.
const (
	ocFieldConnectorID    = "connector_id"
	ocFieldConnectorName  = "connector_name"
	ocFieldConnectorScope = "connector_scope"
	ocFieldPingInterval   = "ping_interval"
	ocFieldMaxRetries     = "max_retries"
	ocFieldMaxInFlight    = "max_in_flight"
	ocFieldBatching       = "batching"
)

// indicatorCacheSize bounds the internal-id → standard-id cache (cleared when full).
const indicatorCacheSize = 10000

func openCTIOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Version("0.1.0").
		Categories("Services").
		Summary("Pushes STIX 2.1 bundles into OpenCTI as a registered EXTERNAL_IMPORT connector.").
		Description(`
At connect the output registers the connector (`+"`registerConnector`"+`, type EXTERNAL_IMPORT)
and then pings it every `+"`ping_interval`"+` so OpenCTI shows it as active. Each batch opens one
OpenCTI work; each message (a STIX bundle) is pushed with `+"`stixBundlePush`"+` under that work,
which is closed with `+"`toProcessed`"+` (in error when a message failed). Bundles are queued by
OpenCTI and ingested by its workers; deterministic STIX ids make a re-push an update.

Network errors, HTTP 429/5xx and the transient GraphQL errors OpenCTI sends (LOCK_ERROR under
concurrent upserts, DATABASE_ERROR, FUNCTIONAL_ERROR "Too many requests") are retried with
jittered back-off; a message that still fails is nacked (and retried by the
pipeline). A rejected token (AUTH_REQUIRED) or a user without the CONNECTORAPI capability
(FORBIDDEN_ACCESS) fails the connection with a message naming OPENCTI_TOKEN or the capability.

Sightings left pending by `+"`harfanglab_to_stix`"+` (indicators known only by their OpenCTI
internal id) are resolved here with the GraphQL `+"`indicator(id:)`"+` query (cached) before the push;
a sighting whose indicator OpenCTI does not know is dropped with a warning.

The token needs the CONNECTORAPI capability (OpenCTI "Connector" role).`).
		Fields(
			connectionFields(service.NewDurationField(fieldTimeout).
				Description("Timeout of one GraphQL request.").
				Default("60s").
				Advanced())...).
		Fields(
			service.NewStringField(ocFieldConnectorID).
				Description("UUID the connector registers under (CONNECTOR_ID); keep it stable across restarts."),
			service.NewStringField(ocFieldConnectorName).
				Description("Connector name shown in OpenCTI; also names the works.").
				Default("HarfangLab"),
			service.NewStringListField(ocFieldConnectorScope).
				Description("Connector scope declared at registration.").
				Default([]string{"harfanglab"}).
				Advanced(),
			service.NewDurationField(ocFieldPingInterval).
				Description("Heartbeat period (OpenCTI marks a connector inactive after 5 minutes of silence).").
				Default("40s").
				Advanced(),
			service.NewIntField(ocFieldMaxRetries).
				Description("Retries of one GraphQL call on transient failures (network, 429, 5xx, lock errors); -1, the default, retries until OpenCTI answers or the stream stops, so an outage never sends a bundle to the dead-letter route. Only bundles OpenCTI refuses for good fail.").
				Default(-1).
				Advanced(),
			service.NewOutputMaxInFlightField().Default(4),
			service.NewBatchPolicyField(ocFieldBatching),
		).
		Example("Detections into OpenCTI", "", `
output:
  opencti:
    url: ${OPENCTI_URL}
    token: ${OPENCTI_TOKEN}
    connector_id: ${CONNECTOR_ID}
    connector_name: ${CONNECTOR_NAME:HarfangLab}
    batching:
      count: 50
      period: 5s
`)
}

func init() {
	service.MustRegisterBatchOutput("opencti", openCTIOutputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			var policy service.BatchPolicy
			maxInFlight, err := conf.FieldMaxInFlight()
			if err != nil {
				return nil, policy, 0, err
			}
			if policy, err = conf.FieldBatchPolicy(ocFieldBatching); err != nil {
				return nil, policy, 0, err
			}
			out, err := newOpenCTIOutput(conf, mgr)
			return out, policy, maxInFlight, err
		})
}

// openCTIOutput is the opencti output.
type openCTIOutput struct {
	client       *Client
	reg          ConnectorRegistration
	pingInterval time.Duration
	log          *service.Logger

	cacheMu    sync.Mutex
	indicators map[string]string // OpenCTI internal id → standard id

	pingOnce  sync.Once
	closeOnce sync.Once
	stopPing  context.CancelFunc
	pingDone  chan struct{}

	mPushed   *service.MetricCounter
	mFailed   *service.MetricCounter
	mWorks    *service.MetricCounter
	mPings    *service.MetricCounter
	mResolved *service.MetricCounter
}

func newOpenCTIOutput(conf *service.ParsedConfig, mgr *service.Resources) (*openCTIOutput, error) {
	var cc ClientConfig
	var err error
	if cc.URL, err = conf.FieldString(fieldURL); err != nil {
		return nil, err
	}
	if cc.Token, err = conf.FieldString(fieldToken); err != nil {
		return nil, err
	}
	if cc.TLS, err = conf.FieldTLS(fieldTLS); err != nil {
		return nil, err
	}
	if cc.Timeout, err = conf.FieldDuration(fieldTimeout); err != nil {
		return nil, err
	}
	if cc.MaxRetries, err = conf.FieldInt(ocFieldMaxRetries); err != nil {
		return nil, err
	}
	cc.Logger, cc.Metrics = mgr.Logger(), mgr.Metrics()
	o := &openCTIOutput{log: mgr.Logger(), indicators: map[string]string{}, reg: ConnectorRegistration{Type: "EXTERNAL_IMPORT"}}
	if o.client, err = NewClient(cc); err != nil {
		return nil, err
	}
	if o.reg.ID, err = conf.FieldString(ocFieldConnectorID); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(o.reg.ID); err != nil || len(o.reg.ID) != 36 {
		return nil, fmt.Errorf("field %s: %q is not a UUID (check CONNECTOR_ID)", ocFieldConnectorID, o.reg.ID)
	}
	if o.reg.Name, err = conf.FieldString(ocFieldConnectorName); err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(o.reg.Name)) < 2 {
		return nil, fmt.Errorf("field %s: OpenCTI needs a name of at least 2 characters (check CONNECTOR_NAME)", ocFieldConnectorName)
	}
	if o.reg.Scope, err = conf.FieldStringList(ocFieldConnectorScope); err != nil {
		return nil, err
	}
	if o.pingInterval, err = conf.FieldDuration(ocFieldPingInterval); err != nil {
		return nil, err
	}
	if o.pingInterval <= 0 {
		return nil, fmt.Errorf("field %s: must be positive", ocFieldPingInterval)
	}
	met := mgr.Metrics()
	o.mPushed = met.NewCounter("opencti_bundles_pushed_total")
	o.mFailed = met.NewCounter("opencti_bundle_push_errors_total")
	o.mWorks = met.NewCounter("opencti_works_total", "result")
	o.mPings = met.NewCounter("opencti_pings_total", "result")
	o.mResolved = met.NewCounter("opencti_pending_sightings_total", "result")
	return o, nil
}

// Connect registers the connector and starts the heartbeat.
func (o *openCTIOutput) Connect(ctx context.Context) error {
	if _, err := o.client.RegisterConnector(ctx, o.reg); err != nil {
		return fmt.Errorf("registering connector %s: %w", o.reg.ID, err)
	}
	o.pingOnce.Do(o.startPinger)
	return nil
}

// startPinger runs pingConnector every ping_interval until Close.
func (o *openCTIOutput) startPinger() {
	ctx, cancel := context.WithCancel(context.Background())
	o.stopPing = cancel
	o.pingDone = make(chan struct{})
	go func() {
		defer close(o.pingDone)
		t := time.NewTicker(o.pingInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, o.pingInterval)
			_, err := o.client.PingConnector(pctx, o.reg.ID, nil)
			pcancel()
			switch {
			case err == nil:
				o.mPings.Incr(1, "ok")
			case ctx.Err() == nil:
				o.mPings.Incr(1, "error")
				o.log.Warnf("connector heartbeat failed: %v", err)
			}
		}
	}()
}

// WriteBatch pushes every message of the batch under one work.
func (o *openCTIOutput) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	workID, err := o.client.WorkAdd(ctx, o.reg.ID, fmt.Sprintf("%s run @ %s", o.reg.Name, time.Now().UTC().Format("2006-01-02 15:04:05")))
	if err != nil {
		return o.failAll(err, "opening work")
	}
	var berr *service.BatchError
	var firstErr error
	pushed, failed := 0, 0
	for i, msg := range batch {
		err := o.pushOne(ctx, msg, workID)
		if err == nil {
			pushed++
			o.mPushed.Incr(1)
			continue
		}
		failed++
		o.mFailed.Incr(1)
		if firstErr == nil {
			firstErr = err
		}
		if IsAuth(err) {
			o.closeWork(ctx, workID, fmt.Sprintf("%d bundle(s) pushed, stopped: %v", pushed, err), true)
			return o.failAll(err, "pushing bundle")
		}
		if berr == nil {
			berr = service.NewBatchError(batch, fmt.Errorf("pushing bundles: %w", err))
		}
		berr.Failed(i, err)
	}
	summary := fmt.Sprintf("%d bundle(s) pushed", pushed)
	if failed > 0 {
		summary += fmt.Sprintf(", %d failed (first: %v)", failed, firstErr)
	}
	o.closeWork(ctx, workID, summary, failed > 0)
	if berr != nil {
		return berr
	}
	return nil
}

// failAll turns a batch-wide failure into the error Benthos expects: ErrNotConnected for a
// rejected token or capability (Connect then reports it clearly), the error otherwise.
func (o *openCTIOutput) failAll(err error, doing string) error {
	if IsAuth(err) {
		o.log.Errorf("%s: %v", doing, err)
		return service.ErrNotConnected
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func (o *openCTIOutput) closeWork(ctx context.Context, workID, summary string, inError bool) {
	result := "ok"
	if inError {
		result = "error"
	}
	o.mWorks.Incr(1, result)
	if err := o.client.WorkToProcessed(ctx, workID, summary, inError); err != nil {
		// The bundles are queued already; only the work's display state is lost.
		o.log.Warnf("closing work %s: %v", workID, err)
	}
}

// pushOne validates one bundle, resolves its pending sightings and pushes it.
func (o *openCTIOutput) pushOne(ctx context.Context, msg *service.Message, workID string) error {
	raw, err := msg.AsBytes()
	if err != nil {
		return fmt.Errorf("reading message: %w", err)
	}
	body, err := o.prepareBundle(ctx, raw)
	if err != nil {
		return err
	}
	if body == nil {
		return nil // nothing left to push
	}
	return o.client.StixBundlePush(ctx, o.reg.ID, string(body), workID)
}

// prepareBundle checks that raw is a non-empty STIX bundle and resolves pending sightings.
// It returns nil when every object was dropped.
func (o *openCTIOutput) prepareBundle(ctx context.Context, raw []byte) ([]byte, error) {
	pending := bytes.Contains(raw, []byte(stixid.PendingSightingOfProperty))
	if !pending {
		var b struct {
			Type    string            `json:"type"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(raw, &b); err != nil || b.Type != "bundle" {
			return nil, errors.New("message is not a STIX bundle (a JSON object with type \"bundle\")")
		}
		if len(b.Objects) == 0 {
			return nil, errors.New("STIX bundle has no objects")
		}
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b map[string]any
	if err := dec.Decode(&b); err != nil || b["type"] != "bundle" {
		return nil, errors.New("message is not a STIX bundle (a JSON object with type \"bundle\")")
	}
	objs, _ := b["objects"].([]any)
	kept := make([]any, 0, len(objs))
	seen := map[string]bool{}
	for _, e := range objs {
		obj, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if internal, ok := obj[stixid.PendingSightingOfProperty].(string); ok {
			std, err := o.resolveIndicator(ctx, internal)
			if err != nil {
				return nil, fmt.Errorf("resolving indicator %s: %w", internal, err)
			}
			if std == "" {
				o.mResolved.Incr(1, "unknown")
				o.log.Warnf("sighting dropped: OpenCTI knows no indicator with id %s", internal)
				continue
			}
			stixid.ResolvePendingSighting(obj, std)
			o.mResolved.Incr(1, "resolved")
		}
		id, _ := obj["id"].(string)
		if seen[id] {
			continue // the same sighting also named by STIX id
		}
		seen[id] = true
		kept = append(kept, obj)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	b["objects"] = kept
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// resolveIndicator maps an OpenCTI internal id to the indicator's standard id, cached.
func (o *openCTIOutput) resolveIndicator(ctx context.Context, internalID string) (string, error) {
	o.cacheMu.Lock()
	std, ok := o.indicators[internalID]
	o.cacheMu.Unlock()
	if ok {
		return std, nil
	}
	std, err := o.client.IndicatorStandardID(ctx, internalID)
	if err != nil || std == "" {
		return "", err // unknown ids are not cached: the indicator may be created later
	}
	o.cacheMu.Lock()
	if len(o.indicators) >= indicatorCacheSize {
		clear(o.indicators)
	}
	o.indicators[internalID] = std
	o.cacheMu.Unlock()
	return std, nil
}

// Close stops the heartbeat; idempotent.
func (o *openCTIOutput) Close(context.Context) error {
	o.closeOnce.Do(func() {
		o.pingOnce.Do(func() {}) // no pinger may start after Close
		if o.stopPing != nil {
			o.stopPing()
			<-o.pingDone
		}
	})
	return nil
}
