package harfanglab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/detection"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	// maxThreatAlerts bounds the alerts embedded in one threat message (a threat may group
	// tens of thousands of events; the newest are kept).
	maxThreatAlerts = 1000
	// buildWorkers bounds the concurrent rule lookups of one page.
	buildWorkers = 8
)

var errEnough = errors.New("enough")

func (in *alertsInput) alertFilters() url.Values {
	return url.Values{
		"status":     {strings.Join(in.conf.statuses, ",")},
		"alert_type": {strings.Join(in.conf.alertTypes, ",")},
		"maturity":   {strings.Join(in.conf.maturity, ",")},
	}
}

// fetchPage reads the next page of one pass and buffers its new objects as messages. The
// pager only moves once every message of the page is built, so a failure re-reads the page.
func (in *alertsInput) fetchPage(ctx context.Context, ps *pass) error {
	p := ps.p
	var page struct {
		Next    *string           `json:"next"`
		Results []json.RawMessage `json:"results"`
	}
	if err := in.client.Get(ctx, p.path, p.query(), &page); err != nil {
		return err
	}
	saved := *p
	saved.cur = p.cur.clone()
	fresh := p.take(page.Results, page.Next != nil && *page.Next != "")
	if ps.name == passUpdated {
		fresh = in.changedSinceImport(fresh)
	}
	msgs, err := in.buildMessages(ctx, ps.kind, fresh)
	if err != nil {
		*p = saved
		return err
	}
	// A page without a new message still moves the cursor (committed in order with the
	// pages before it), so a restart does not list it again.
	release, err := ps.cp.Track(ctx, p.cur.clone(), int64(max(1, len(msgs))))
	if err != nil {
		*p = saved
		return err
	}
	pa := &pageAck{remaining: int64(max(1, len(msgs)))}
	ack := in.ackFunc(pa, ps, release)
	if len(msgs) == 0 {
		return ack(ctx, nil)
	}
	for _, msg := range msgs {
		in.buf = append(in.buf, pendingMessage{msg: msg, ack: ack})
	}
	return nil
}

// changedSinceImport keeps, of the alerts the update pass found, those the new-alerts pass
// already read and that were touched after it could have read them. An alert the new-alerts
// pass has not reached yet is left to it (it will read its current state); an alert whose
// last_update is within settle_delay of its alert_time was read with that state already (the
// new-alerts pass reads an alert only settle_delay after its alert_time), which also covers
// consoles that set last_update when the alert is created. An alert uploaded late (its
// alert_time already behind the new-alerts cursor when it became visible) on a console that
// sets last_update on storage is kept: this pass is then the only one that can import it
// (duplicates are harmless, OpenCTI ids are deterministic; a loss is not).
func (in *alertsInput) changedSinceImport(items []listItem) []listItem {
	created := in.passes[0].p.cur
	var out []listItem
	for _, it := range items {
		if it.alertTime.IsZero() {
			out = append(out, it) // no alert_time: only this pass can import it
			continue
		}
		if !created.read(it.id, it.alertTime) || !it.t.After(it.alertTime.Add(in.conf.settleDelay)) {
			continue
		}
		out = append(out, it)
	}
	return out
}

// buildMessages turns a page's new objects into messages, in order. Alerts are built by a few
// workers at once: each may wait on a rule lookup, and a page often names many rules. A refused
// token fails the whole page (it is read again once the token works).
func (in *alertsInput) buildMessages(ctx context.Context, kind string, items []listItem) ([]*service.Message, error) {
	msgs := make([]*service.Message, len(items))
	if kind == detection.KindThreat {
		for i, it := range items {
			msg, err := in.threatMessage(ctx, it)
			if err != nil {
				return nil, err
			}
			msgs[i] = msg
		}
		return msgs, nil
	}
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(buildWorkers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				msgs[i], errs[i] = in.alertMessage(ctx, items[i])
			}
		}()
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return msgs, ctx.Err()
}

// pageAck counts the messages of one page still unacknowledged.
type pageAck struct {
	remaining int64
	failed    atomic.Bool
}

// ackFunc resolves the page in the checkpointer once all its messages are acknowledged, and
// persists the highest cursor whose pages before it are all resolved. A nack (only seen with
// auto_replay_nacks: false) never resolves the page, so the persisted cursor stays before it.
func (in *alertsInput) ackFunc(pa *pageAck, ps *pass, release func() *streamCursor) service.AckFunc {
	return func(ctx context.Context, err error) error {
		if err != nil {
			if !pa.failed.Swap(true) {
				in.log.Warnf("A HarfangLab %s was rejected downstream: the cursor will not move past it until restart: %v", ps.kind, err)
			}
			return nil
		}
		if atomic.AddInt64(&pa.remaining, -1) != 0 || pa.failed.Load() {
			return nil
		}
		in.commitMu.Lock()
		defer in.commitMu.Unlock()
		hi := release()
		if hi == nil {
			return nil
		}
		*in.committed.cursorOf(ps.name) = hi.clone()
		in.dirty = true
		if werr := in.writeCursor(ctx, in.committed); werr != nil {
			// Soft failure: the cursor stays in memory and the next commit writes it again.
			in.metrics.cacheSetErrors.Incr(1)
			in.log.Warnf("Keeping the HarfangLab cursor in memory: %v", werr)
			return nil
		}
		in.dirty = false
		return nil
	}
}

// alertMessage builds the message of one alert. Problems with the object flag the message
// with an error; a failed rule lookup only leaves the rule out.
func (in *alertsInput) alertMessage(ctx context.Context, it listItem) (*service.Message, error) {
	body := detection.Alert{Kind: detection.KindAlert, Alert: it.raw, IndicatorIDs: []string{}}
	var fields alertFields
	decodeErr := it.err
	if decodeErr == nil {
		if err := json.Unmarshal(it.raw, &fields); err != nil {
			decodeErr = fmt.Errorf("decoding alert fields: %w", err)
		}
	}
	if decodeErr == nil {
		ruleType, m, cached, err := in.resolver.resolve(ctx, fields)
		body.RuleType = ruleType
		switch {
		case IsAuthFailure(err):
			return nil, fmt.Errorf("looking up the %s rule of HarfangLab alert %s: %w", ruleType, it.id, err)
		case err != nil:
			in.metrics.ruleLookups.Incr(1, "error")
			in.log.Warnf("Looking up the %s rule of HarfangLab alert %s failed, sending it without its rule: %v", ruleType, it.id, err)
		case ruleType == "":
		case cached:
			in.metrics.ruleLookups.Incr(1, "cached")
		case m.rule == nil:
			in.metrics.ruleLookups.Incr(1, "not_found")
		default:
			in.metrics.ruleLookups.Incr(1, "found")
		}
		if err == nil && m.rule != nil {
			body.Rule = m.rule
			body.IndicatorIDs = append(body.IndicatorIDs, m.indicatorIDs...)
		}
	}
	b, err := json.Marshal(body)
	if err != nil { // it.raw came out of a JSON document, so this cannot happen
		b = []byte(`{"kind":"alert"}`)
		decodeErr = errors.Join(decodeErr, err)
	}
	msg := service.NewMessage(b)
	msg.MetaSetMut(metaKind, detection.KindAlert)
	msg.MetaSetMut(metaID, it.id)
	if fields.Type != "" {
		msg.MetaSetMut(metaAlertType, fields.Type)
	}
	if fields.Status != "" {
		msg.MetaSetMut(metaStatus, fields.Status)
	}
	if decodeErr != nil {
		in.metrics.malformed.Incr(1, detection.KindAlert)
		msg.SetError(fmt.Errorf("unusable HarfangLab alert %s: %w", it.id, decodeErr))
	} else {
		in.metrics.alerts.Incr(1, fields.Type)
	}
	return msg, nil
}

// threatMessage builds the message of one threat with its alerts and note. A request failure
// is returned (the page is read again later); a malformed threat is flagged on its message.
func (in *alertsInput) threatMessage(ctx context.Context, it listItem) (*service.Message, error) {
	body := detection.Threat{Kind: detection.KindThreat, Threat: it.raw, Alerts: []json.RawMessage{}, Notes: []json.RawMessage{}}
	var head struct {
		Status string `json:"status"`
	}
	if it.err == nil {
		if err := json.Unmarshal(it.raw, &head); err != nil {
			it.err = err
		}
	}
	if it.err == nil {
		q := in.alertFilters()
		q.Set("threat_key", it.id)
		q.Set("ordering", "-alert_time")
		// At most maxThreatAlerts are kept, so paging never nears the result window even
		// for a threat grouping tens of thousands of events.
		q.Set("limit", strconv.Itoa(min(in.conf.pageSize, maxThreatAlerts)))
		err := in.client.List(ctx, PathAlerts, q, func(raw json.RawMessage) error {
			if len(body.Alerts) >= maxThreatAlerts {
				return errEnough
			}
			body.Alerts = append(body.Alerts, raw)
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return nil, fmt.Errorf("listing the alerts of threat %s: %w", it.id, err)
		}
		var note json.RawMessage
		err = in.client.Get(ctx, PathThreats+url.PathEscape(it.id)+"/note/", nil, &note)
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		case err != nil:
			return nil, fmt.Errorf("reading the note of threat %s: %w", it.id, err)
		case len(note) > 0 && string(note) != "null" && string(note) != "{}":
			body.Notes = append(body.Notes, note)
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding threat %s: %w", it.id, err)
	}
	msg := service.NewMessage(b)
	msg.MetaSetMut(metaKind, detection.KindThreat)
	msg.MetaSetMut(metaID, it.id)
	if head.Status != "" {
		msg.MetaSetMut(metaStatus, head.Status)
	}
	if it.err != nil {
		in.metrics.malformed.Incr(1, detection.KindThreat)
		msg.SetError(fmt.Errorf("unusable HarfangLab threat %s: %w", it.id, it.err))
	} else {
		in.metrics.threats.Incr(1)
	}
	return msg, nil
}

// inputMetrics are the input's metrics; labels are bounded (kind, result).
type inputMetrics struct {
	alerts          *service.MetricCounter
	threats         *service.MetricCounter
	malformed       *service.MetricCounter
	polls           *service.MetricCounter
	pollErrors      *service.MetricCounter
	ruleLookups     *service.MetricCounter
	cacheSetErrors  *service.MetricCounter
	windowTruncated *service.MetricCounter
	cursorAge       *service.MetricGauge
}

func newInputMetrics(m *service.Metrics) inputMetrics {
	return inputMetrics{
		alerts:          m.NewCounter("harfanglab_alerts_total", "alert_type"),
		threats:         m.NewCounter("harfanglab_threats_total"),
		malformed:       m.NewCounter("harfanglab_alerts_malformed_total", "kind"),
		polls:           m.NewCounter("harfanglab_alerts_polls_total"),
		pollErrors:      m.NewCounter("harfanglab_alerts_poll_errors_total", "kind"),
		ruleLookups:     m.NewCounter("harfanglab_alerts_rule_lookups_total", "result"),
		cacheSetErrors:  m.NewCounter("harfanglab_alerts_cache_set_errors_total"),
		windowTruncated: m.NewCounter("harfanglab_alerts_window_truncated_total", "pass"),
		cursorAge:       m.NewGauge("harfanglab_alerts_cursor_age_seconds", "kind"),
	}
}

// updateCursorAge publishes how far behind now the persisted cursors are.
func (in *alertsInput) updateCursorAge() {
	in.commitMu.Lock()
	st := in.committed
	in.commitMu.Unlock()
	now := in.now()
	for _, ps := range in.passes {
		in.metrics.cursorAge.Set(int64(now.Sub(st.cursorOf(ps.name).Since).Seconds()), ps.name)
	}
}
