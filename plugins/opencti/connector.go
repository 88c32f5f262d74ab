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
}

// RegisterConnector registers (or updates) the connector and returns its persisted state.
func (c *Client) RegisterConnector(ctx context.Context, r ConnectorRegistration) (state string, err error) {
	var out struct {
		ID    string  `json:"id"`
		State *string `json:"connector_state"`
	}
	err = c.Do(ctx, "registerConnector", registerConnectorQuery, map[string]any{"input": map[string]any{
		"id": r.ID, "name": r.Name, "type": r.Type, "scope": r.Scope,
		"auto": false, "auto_update": false, "enrichment_resolution": "none",
		"only_contextual": false, "playbook_compatible": false, "listen_callback_uri": nil,
	}}, &out)
	if err != nil || out.State == nil {
		return "", err
	}
	return *out.State, nil
}

// PingConnector is the heartbeat that keeps the connector "active" in OpenCTI. The output keeps
// its cursors elsewhere, so no state is sent.
func (c *Client) PingConnector(ctx context.Context, connectorID string) error {
	return c.Do(ctx, "pingConnector", pingConnectorQuery, map[string]any{
		"id": connectorID,
		"connectorInfo": map[string]any{
			"run_and_terminate": false, "buffering": false, "queue_threshold": 500, "queue_messages_size": 0,
		},
	}, nil)
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
