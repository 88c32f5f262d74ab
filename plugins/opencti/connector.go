package opencti

import (
	"context"
)

// The connector API operations (opencti-stream-and-api.md §3-§4), as pycti sends them.
const (
	registerConnectorQuery = `mutation RegisterConnector($input: RegisterConnectorInput) {
  registerConnector(input: $input) { id connector_state connector_user_id }
}`
	pingConnectorQuery = `mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) {
  pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state }
}`
	workAddQuery = `mutation workAdd($connectorId: String!, $friendlyName: String) {
  workAdd(connectorId: $connectorId, friendlyName: $friendlyName) { id }
}`
	workToProcessedQuery = `mutation workToProcessed($id: ID!, $message: String, $inError: Boolean) {
  workEdit(id: $id) { toProcessed(message: $message, inError: $inError) }
}`
	stixBundlePushQuery = `mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) {
  stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id)
}`
	indicatorQuery = `query Indicator($id: String!) {
  indicator(id: $id) { id standard_id }
}`
)

// ConnectorRegistration is what registerConnector declares.
type ConnectorRegistration struct {
	ID, Name, Type string
	Scope          []string
	// Optional inputs, sent only when set: OpenCTI before 6.8.9 rejects auto_update and
	// enrichment_resolution, before 6.5.7 listen_callback_uri too (unknown input fields are
	// validation errors), and the server defaults all three. Omitting them keeps the floor at
	// 6.5.7 (the first version accepting stixBundlePush(work_id:)).
	AutoUpdate           *bool
	EnrichmentResolution string
	ListenCallbackURI    string
}

// input is the RegisterConnectorInput, pycti's to_input without the optional fields left unset.
func (r ConnectorRegistration) input() map[string]any {
	in := map[string]any{
		"id": r.ID, "name": r.Name, "type": r.Type, "scope": r.Scope,
		"auto": false, "only_contextual": false, "playbook_compatible": false,
	}
	if r.AutoUpdate != nil {
		in["auto_update"] = *r.AutoUpdate
	}
	if r.EnrichmentResolution != "" {
		in["enrichment_resolution"] = r.EnrichmentResolution
	}
	if r.ListenCallbackURI != "" {
		in["listen_callback_uri"] = r.ListenCallbackURI
	}
	return in
}

// RegisterConnector registers (or updates) the connector and returns its persisted state
// ("" when OpenCTI holds none, or it was reset).
func (c *Client) RegisterConnector(ctx context.Context, r ConnectorRegistration) (state string, err error) {
	var out struct {
		ID    string  `json:"id"`
		State *string `json:"connector_state"`
	}
	err = c.Do(ctx, "registerConnector", registerConnectorQuery, map[string]any{"input": r.input()}, &out)
	if err != nil || out.State == nil {
		return "", err
	}
	return *out.State, nil
}

// PingConnector is the heartbeat that keeps the connector "active" in OpenCTI (seen in the last
// 5 minutes). With a state, OpenCTI stores it as connector_state, except when an administrator
// reset the state since the last ping: then it keeps the reset state and answers it. The answer
// is the stored state ("" for none or reset). A nil state sends none (the output keeps its
// cursors elsewhere).
func (c *Client) PingConnector(ctx context.Context, connectorID string, state *string) (string, error) {
	vars := map[string]any{
		"id": connectorID,
		"connectorInfo": map[string]any{
			"run_and_terminate": false, "buffering": false, "queue_threshold": 500, "queue_messages_size": 0,
		},
	}
	if state != nil {
		vars["state"] = *state
	}
	var out struct {
		State *string `json:"connector_state"`
	}
	if err := c.Do(ctx, "pingConnector", pingConnectorQuery, vars, &out); err != nil {
		return "", err
	}
	if out.State == nil {
		return "", nil
	}
	return *out.State, nil
}

// WorkAdd opens a work (an import job shown in the connector's page) and returns its id.
func (c *Client) WorkAdd(ctx context.Context, connectorID, name string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := c.Do(ctx, "workAdd", workAddQuery, map[string]any{"connectorId": connectorID, "friendlyName": name}, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// WorkToProcessed closes a work.
func (c *Client) WorkToProcessed(ctx context.Context, workID, message string, inError bool) error {
	return c.Do(ctx, "workEdit", workToProcessedQuery, map[string]any{"id": workID, "message": message, "inError": inError}, nil)
}

// StixBundlePush queues one bundle (its JSON text) for ingestion under a work.
func (c *Client) StixBundlePush(ctx context.Context, connectorID, bundle, workID string) error {
	vars := map[string]any{"connectorId": connectorID, "bundle": bundle}
	if workID != "" {
		vars["work_id"] = workID
	}
	return c.Do(ctx, "stixBundlePush", stixBundlePushQuery, vars, nil)
}

// IndicatorStandardID returns the standard STIX id of an indicator given by any of its ids
// ("" when OpenCTI does not know it).
func (c *Client) IndicatorStandardID(ctx context.Context, id string) (string, error) {
	var out *struct {
		StandardID string `json:"standard_id"`
	}
	if err := c.Do(ctx, "indicator", indicatorQuery, map[string]any{"id": id}, &out); err != nil {
		return "", err
	}
	if out == nil {
		return "", nil
	}
	return out.StandardID, nil
}
