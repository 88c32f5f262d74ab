package opencti

// The opencti_stream input as OpenCTI sees it: a registered STREAM connector, like every pycti
// stream connector and the legacy HarfangLab connector. It registers at start, pings every
// ping_interval with its position in connector_state (pycti's {"start_from", "recover_until"}
// shape), so Data > Ingestion > Connectors shows it alive with its position, and it learns of a
// "reset state" done in the UI from the ping's answer, as pycti does: OpenCTI then answers the
// cleared state instead of storing ours.
//
// The local cursor (checkpoint_cache) stays the source of truth: it moves only once HarfangLab
// acknowledged every earlier change, whereas connector_state is a mirror written at each ping.
// A registration answering a different state changes nothing; only a ping answering the cleared
// state (an explicit reset) acts, by starting the snapshot again (resnapshot).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	osFieldConnector        = "connector"
	osConnFieldID           = "id"
	osConnFieldIDSeed       = "id_seed"
	osConnFieldName         = "name"
	osConnFieldScope        = "scope"
	osConnFieldPingInterval = "ping_interval"

	// streamConnectorIDName derives the connector id from id_seed: UUIDv5(id_seed, this name).
	streamConnectorIDName = "opencti-to-harfanglab"
	defaultConnectorName  = "HarfangLab"
	defaultPingInterval   = 40 * time.Second
	// linkRetries bounds the retries of one registration or ping: the next tick tries again.
	linkRetries = 2
)

const connectorFieldDoc = "Registers the input in OpenCTI as a STREAM connector on `stream_id` (the token needs the " +
	"CONNECTORAPI capability), pings it every `ping_interval` with the position of the local cursor in " +
	"`connector_state` (`{\"start_from\": <event id>, \"recover_until\": <date>}`, pycti's shape), and starts the " +
	"`recover_from` snapshot again when the state is reset from the OpenCTI UI. The local cursor stays the " +
	"source of truth: connector_state mirrors it. A failed registration or ping is logged and tried again at " +
	"the next tick; the stream is not held up."

func connectorRegistrationField() *service.ConfigField {
	return service.NewObjectField(osFieldConnector,
		service.NewStringField(osConnFieldID).
			Description("UUID the stream connector registers under; empty: derived from `id_seed`.").
			Default(""),
		service.NewStringField(osConnFieldIDSeed).
			Description("UUID (the deployment's CONNECTOR_ID) the connector id is derived from when `id` is empty: UUIDv5(namespace `id_seed`, name `"+streamConnectorIDName+"`), its own stable id, distinct from the import connector's. With both empty, no registration.").
			Default(""),
		service.NewStringField(osConnFieldName).
			Description("Connector name shown in OpenCTI (2 characters at least).").
			Default(defaultConnectorName),
		service.NewStringListField(osConnFieldScope).
			Description("Connector scope declared at registration.").
			Default([]string{"harfanglab"}).
			Advanced(),
		service.NewDurationField(osConnFieldPingInterval).
			Description("Heartbeat period; each ping carries the position (OpenCTI marks a connector inactive after 5 minutes of silence).").
			Default(defaultPingInterval.String()).
			Advanced(),
	).Description(connectorFieldDoc)
}

// connectorLink registers the input's connector and keeps it alive and positioned.
type connectorLink struct {
	client   *Client
	reg      ConnectorRegistration
	interval time.Duration
	log      *service.Logger
	// state returns the local position in pycti's shape (ok=false: no position yet).
	state func(ctx context.Context) (state string, ok bool, err error)
	// onReset is called when OpenCTI answers a cleared state: a reset from the UI.
	onReset func(reason string)

	lastSent string // last state pinged (resent when the local cursor cannot be read)
	resets   atomic.Int64
	mPings   *service.MetricCounter

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}
}

// newConnectorLink reads the `connector` object; nil when it is absent.
func newConnectorLink(conf *service.ParsedConfig, mgr *service.Resources, c streamConfig) (*connectorLink, error) {
	if !connectorConfigured(conf) {
		return nil, nil
	}
	cc := ClientConfig{URL: c.baseURL, Token: c.token, MaxRetries: linkRetries, Logger: mgr.Logger(), Metrics: mgr.Metrics()}
	var err error
	if cc.TLS, err = conf.FieldTLS(fieldTLS); err != nil {
		return nil, err
	}
	if cc.Timeout, err = conf.FieldDuration(fieldTimeout); err != nil {
		return nil, err
	}
	client, err := NewClient(cc)
	if err != nil {
		return nil, err
	}
	conn := conf.Namespace(osFieldConnector)
	l := &connectorLink{client: client, log: mgr.Logger(), reg: ConnectorRegistration{Type: "STREAM"},
		mPings: mgr.Metrics().NewCounter("opencti_stream_connector_pings_total", "result")}
	if l.reg.ID, err = streamConnectorID(conn); err != nil {
		return nil, err
	}
	if l.reg.Name, err = conn.FieldString(osConnFieldName); err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(l.reg.Name)) < 2 {
		return nil, fmt.Errorf("%s.%s: OpenCTI needs a name of at least 2 characters (check CONNECTOR_NAME)", osFieldConnector, osConnFieldName)
	}
	if l.reg.Scope, err = conn.FieldStringList(osConnFieldScope); err != nil {
		return nil, err
	}
	if l.interval, err = conn.FieldDuration(osConnFieldPingInterval); err != nil {
		return nil, err
	}
	if l.interval <= 0 {
		return nil, fmt.Errorf("%s.%s must be positive", osFieldConnector, osConnFieldPingInterval)
	}
	return l, nil
}

// connectorConfigured reports whether registration is asked for: an id or an id seed is set.
func connectorConfigured(conf *service.ParsedConfig) bool {
	for _, f := range []string{osConnFieldID, osConnFieldIDSeed} {
		if v, err := conf.FieldString(osFieldConnector, f); err == nil && strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// streamConnectorID is connector.id, or UUIDv5(connector.id_seed, "opencti-to-harfanglab").
func streamConnectorID(conn *service.ParsedConfig) (string, error) {
	id, err := conn.FieldString(osConnFieldID)
	if err != nil {
		return "", err
	}
	if id = strings.TrimSpace(id); id != "" {
		u, err := uuid.Parse(id)
		if err != nil || len(id) != 36 {
			return "", fmt.Errorf("%s.%s: %q is not a UUID", osFieldConnector, osConnFieldID, id)
		}
		return u.String(), nil
	}
	seed, err := conn.FieldString(osConnFieldIDSeed)
	if err != nil {
		return "", err
	}
	ns, err := uuid.Parse(strings.TrimSpace(seed))
	if err != nil || len(strings.TrimSpace(seed)) != 36 {
		return "", fmt.Errorf("%s.%s: %q is not a UUID (check CONNECTOR_ID)", osFieldConnector, osConnFieldIDSeed, seed)
	}
	return uuid.NewSHA1(ns, []byte(streamConnectorIDName)).String(), nil
}

// start runs the registration loop once; stop ends it. Both are safe on a nil link.
func (l *connectorLink) start() {
	if l == nil {
		return
	}
	l.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		l.cancel, l.done = cancel, make(chan struct{})
		go func() {
			defer close(l.done)
			l.run(ctx)
		}()
	})
}

func (l *connectorLink) stop() {
	if l == nil {
		return
	}
	l.stopOnce.Do(func() {
		l.startOnce.Do(func() {}) // no loop may start after stop
		if l.cancel != nil {
			l.cancel()
			<-l.done
		}
	})
}

// run registers, then pings every interval; a failed registration is tried again each tick.
func (l *connectorLink) run(ctx context.Context) {
	registered := false
	for {
		if !registered {
			registered = l.register(ctx)
		}
		if registered {
			l.ping(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.interval):
		}
	}
}

func (l *connectorLink) register(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, l.interval)
	defer cancel()
	remote, err := l.client.RegisterConnector(rctx, l.reg)
	if err != nil {
		if ctx.Err() == nil {
			l.logFailure("registering the stream connector %s in OpenCTI: %v", l.reg.ID, err)
		}
		return false
	}
	l.log.Infof("opencti_stream: registered in OpenCTI as STREAM connector %q (%s); its stored state: %s",
		l.reg.Name, l.reg.ID, displayState(remote))
	return true
}

// ping sends the local position and checks the answer for a reset from the UI.
func (l *connectorLink) ping(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, l.interval)
	defer cancel()
	state, ok, err := l.state(pctx)
	if err != nil {
		l.log.Warnf("opencti_stream: reading the cursor for the connector heartbeat: %v", err)
		state, ok = l.lastSent, l.lastSent != ""
	}
	var sent *string
	if ok {
		sent = &state
	}
	remote, err := l.client.PingConnector(pctx, l.reg.ID, sent)
	if err != nil {
		if ctx.Err() == nil {
			l.mPings.Incr(1, "error")
			l.logFailure("connector heartbeat of %s: %v", l.reg.ID, err)
		}
		return
	}
	l.mPings.Incr(1, "ok")
	if !ok {
		return
	}
	l.lastSent = state
	switch {
	case remote == state:
	case strings.TrimSpace(remote) == "" || remote == "null":
		// What pycti reads as a remote reset (PingAlive): the state we sent was not stored.
		l.resets.Add(1)
		l.log.Warnf("opencti_stream: the state of connector %s was reset in OpenCTI (it held %s): starting the snapshot again from recover_from", l.reg.ID, state)
		l.onReset("connector state reset in OpenCTI")
	default:
		l.log.Warnf("opencti_stream: OpenCTI answered state %s for connector %s after we sent %s: is another process using this connector id?", remote, l.reg.ID, state)
	}
}

// logFailure logs at error level what needs an administrator (token, capability), at warning
// level what may pass.
func (l *connectorLink) logFailure(format string, args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok && IsAuth(err) {
			l.log.Errorf("opencti_stream: "+format, args...)
			return
		}
	}
	l.log.Warnf("opencti_stream: "+format, args...)
}

func displayState(s string) string {
	if strings.TrimSpace(s) == "" {
		return "none"
	}
	return s
}

// pyctiState is the cursor in the shape pycti keeps in connector_state. recover_until is
// always present (pycti reads it unconditionally): without a snapshot end, the position's own
// date, which asks for no snapshot.
func pyctiState(c cursorState) string {
	recoverUntil := c.RecoverUntil
	if recoverUntil == "" {
		if id, ok := parseEventID(c.StartFrom); ok {
			recoverUntil = time.UnixMilli(int64(id.ms)).UTC().Format(time.RFC3339Nano)
		}
	}
	b, _ := json.Marshal(struct {
		StartFrom    string `json:"start_from"`
		RecoverUntil string `json:"recover_until"`
	}{c.StartFrom, recoverUntil})
	return string(b)
}

// storedState reads the cursor from checkpoint_cache, the source of truth, for the heartbeat.
func (s *streamInput) storedState(ctx context.Context) (string, bool, error) {
	var raw []byte
	var getErr error
	if err := s.mgr.AccessCache(ctx, s.conf.cacheName, func(c service.Cache) {
		raw, getErr = c.Get(ctx, s.conf.cacheKey)
	}); err != nil {
		return "", false, err
	}
	if errors.Is(getErr, service.ErrKeyNotFound) {
		return "", false, nil
	}
	if getErr != nil {
		return "", false, getErr
	}
	c, err := decodeCursor(raw)
	if err != nil {
		return "", false, err
	}
	return pyctiState(c), true, nil
}

// attachConnectorLink wires the link to this input (called by newStreamInput).
func (s *streamInput) attachConnectorLink(conf *service.ParsedConfig) error {
	l, err := newConnectorLink(conf, s.mgr, s.conf)
	if err != nil || l == nil {
		return err
	}
	l.state = s.storedState
	l.onReset = s.resnapshot
	s.link = l
	return nil
}
