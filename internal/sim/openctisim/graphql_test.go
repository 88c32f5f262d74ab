package openctisim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testConnectorID = "f0f6c5b4-6f1e-4b7e-9a77-1d2e3f4a5b6c"

func gql(t *testing.T, url, token, query string, vars map[string]any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errCode(out map[string]any) string {
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

const (
	qRegister = `mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id connector_state } }`
	qWorkAdd  = `mutation workAdd($connectorId: String!, $friendlyName: String) { workAdd(connectorId: $connectorId, friendlyName: $friendlyName) { id } }`
	qPush     = `mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }`
	qDone     = `mutation workToProcessed($id: ID!, $message: String, $inError: Boolean) { workEdit(id: $id) { toProcessed(message: $message, inError: $inError) } }`
	qPing     = `mutation PingConnector($id: ID!, $state: String) { pingConnector(id: $id, state: $state) { id connector_state } }`
)

func TestGraphQLConnectorWorkAndPush(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()

	code, out := gql(t, srv.URL, "tok", qPush, map[string]any{"connectorId": testConnectorID, "bundle": `{"type":"bundle","objects":[{"id":"x--1"}]}`})
	assert.Equal(t, 200, code)
	assert.Equal(t, "FUNCTIONAL_ERROR", errCode(out), "unregistered connector")

	_, out = gql(t, srv.URL, "tok", qRegister, map[string]any{"input": map[string]any{
		"id": testConnectorID, "name": "HarfangLab", "type": "EXTERNAL_IMPORT", "scope": []string{"harfanglab"}, "auto": false}})
	require.Empty(t, errCode(out))
	_, out = gql(t, srv.URL, "tok", qWorkAdd, map[string]any{"connectorId": testConnectorID, "friendlyName": "run"})
	workID := out["data"].(map[string]any)["workAdd"].(map[string]any)["id"].(string)

	bundle := `{"type":"bundle","objects":[{"type":"incident","id":"incident--1","name":"a"},{"type":"note","id":"note--1"}]}`
	_, out = gql(t, srv.URL, "tok", qPush, map[string]any{"connectorId": testConnectorID, "bundle": bundle, "work_id": workID})
	require.Empty(t, errCode(out))
	bundle2 := `{"type":"bundle","objects":[{"type":"incident","id":"incident--1","name":"b"}]}`
	_, out = gql(t, srv.URL, "tok", qPush, map[string]any{"connectorId": testConnectorID, "bundle": bundle2, "work_id": workID})
	require.Empty(t, errCode(out))
	_, out = gql(t, srv.URL, "tok", qPush, map[string]any{"connectorId": testConnectorID, "bundle": `{"type":"bundle","objects":[]}`})
	assert.Equal(t, "FUNCTIONAL_ERROR", errCode(out), "empty bundle")
	_, out = gql(t, srv.URL, "tok", qDone, map[string]any{"id": workID, "message": "done", "inError": false})
	require.Empty(t, errCode(out))
	_, out = gql(t, srv.URL, "tok", qPing, map[string]any{"id": testConnectorID, "state": `{"k":1}`})
	require.Empty(t, errCode(out))

	assert.Equal(t, 2, s.BundlesPushed())
	assert.Equal(t, "b", s.Objects()["incident--1"]["name"], "upsert by id")
	assert.Equal(t, 2, s.PushCount("incident--1"))
	assert.Len(t, s.ObjectsOfType("note"), 1)
	works := s.Works()
	require.Len(t, works, 1)
	assert.Equal(t, "complete", works[0].Status)
	assert.Equal(t, 2, works[0].Bundles)
	assert.Equal(t, "done", works[0].Message)
	conns := s.Connectors()
	require.Len(t, conns, 1)
	assert.Equal(t, "EXTERNAL_IMPORT", conns[0].Type)
	assert.Equal(t, []string{"harfanglab"}, conns[0].Scope)
	assert.Equal(t, 1, conns[0].Pings)
	assert.Equal(t, `{"k":1}`, conns[0].State)
}

func TestGraphQLFaultsAuthAndCapability(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	reg := map[string]any{"input": map[string]any{"id": testConnectorID, "name": "HL", "type": "EXTERNAL_IMPORT"}}

	code, out := gql(t, srv.URL, "wrong", qRegister, reg)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, "AUTH_REQUIRED", errCode(out))

	s.SetConnectorAPI(false)
	_, out = gql(t, srv.URL, "tok", qRegister, reg)
	assert.Equal(t, "FORBIDDEN_ACCESS", errCode(out))
	s.SetConnectorAPI(true)

	s.SetGraphQLFaults(GraphQLFaults{ErrorEvery: 2, Status5xxNext: 1})
	code, _ = gql(t, srv.URL, "tok", qRegister, reg)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	_, out = gql(t, srv.URL, "tok", qRegister, reg)
	assert.Empty(t, errCode(out))
	_, out = gql(t, srv.URL, "tok", qRegister, reg)
	assert.Equal(t, "LOCK_ERROR", errCode(out))
	assert.Equal(t, 4, s.GraphQLCalls("registerConnector"))

	s.AddIndicator("9a0b8f6e-3b7d-4c55-9f0e-2a1b3c4d5e6f", "indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc")
	s.SetGraphQLFaults(GraphQLFaults{})
	_, out = gql(t, srv.URL, "tok", `query Indicator($id: String!) { indicator(id: $id) { id standard_id } }`,
		map[string]any{"id": "9a0b8f6e-3b7d-4c55-9f0e-2a1b3c4d5e6f"})
	assert.Equal(t, "indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc", out["data"].(map[string]any)["indicator"].(map[string]any)["standard_id"])
	_, out = gql(t, srv.URL, "tok", `query Indicator($id: String!) { indicator(id: $id) { id standard_id } }`, map[string]any{"id": "nope"})
	assert.Nil(t, out["data"].(map[string]any)["indicator"])
}
