package openctisim

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pingState(out map[string]any) any {
	data, _ := out["data"].(map[string]any)
	p, _ := data["pingConnector"].(map[string]any)
	return p["connector_state"]
}

// A UI reset clears the state; the next ping does not store the state sent but answers the
// cleared one (connector.ts), and the ping after it stores again.
func TestConnectorStateResetAsOpenCTI(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	_, out := gql(t, srv.URL, "tok", qRegister, map[string]any{"input": map[string]any{
		"id": testConnectorID, "name": "HarfangLab", "type": "STREAM", "scope": []string{"harfanglab"}}})
	require.Empty(t, out["errors"])
	_, out = gql(t, srv.URL, "tok", qPing, map[string]any{"id": testConnectorID, "state": `{"start_from":"5-0"}`})
	assert.Equal(t, `{"start_from":"5-0"}`, pingState(out))

	require.NoError(t, s.ResetConnectorState(testConnectorID))
	assert.Equal(t, "", s.Connectors()[0].State)
	_, out = gql(t, srv.URL, "tok", qPing, map[string]any{"id": testConnectorID, "state": `{"start_from":"6-0"}`})
	assert.Equal(t, "", pingState(out), "the reset state is answered, ours is not stored")
	_, out = gql(t, srv.URL, "tok", qPing, map[string]any{"id": testConnectorID, "state": `{"start_from":"0-0"}`})
	assert.Equal(t, `{"start_from":"0-0"}`, pingState(out))
	c := s.Connectors()[0]
	assert.Equal(t, []string{`{"start_from":"5-0"}`, `{"start_from":"6-0"}`, `{"start_from":"0-0"}`}, c.PingStates)
	assert.Equal(t, "STREAM", c.Type)
	assert.Error(t, s.ResetConnectorState("00000000-0000-4000-8000-000000000000"))
}

// The 6.5 schema rejects the input fields added in 6.8.9 as a GraphQL validation error; a bad
// ConnectorType is rejected by both.
func TestRegisterConnectorSchemas(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	in := map[string]any{"id": testConnectorID, "name": "HarfangLab", "type": "STREAM", "auto_update": false}
	s.SetSchema(Schema65)
	_, out := gql(t, srv.URL, "tok", qRegister, map[string]any{"input": in})
	assert.Equal(t, "BAD_USER_INPUT", errCode(out))
	assert.Contains(t, out["errors"].([]any)[0].(map[string]any)["message"], `Field "auto_update" is not defined by type "RegisterConnectorInput"`)
	assert.Empty(t, s.Connectors())
	s.SetSchema(SchemaLatest)
	_, out = gql(t, srv.URL, "tok", qRegister, map[string]any{"input": in})
	assert.Empty(t, out["errors"])
	in["type"] = "STREAMING"
	_, out = gql(t, srv.URL, "tok", qRegister, map[string]any{"input": in})
	assert.Equal(t, "BAD_USER_INPUT", errCode(out))
}

// Injected errors carry OpenCTI's code (as name and extensions.code), message and http_status.
func TestInjectedErrorsAreOpenCTIs(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.SetGraphQLFaults(GraphQLFaults{ErrorEvery: 1, Error: ErrTooManyRequests})
	code, out := gql(t, srv.URL, "tok", qPing, map[string]any{"id": testConnectorID})
	assert.Equal(t, 200, code)
	e := out["errors"].([]any)[0].(map[string]any)
	assert.Equal(t, "Too many requests", e["message"])
	assert.Equal(t, "FUNCTIONAL_ERROR", e["name"])
	assert.Equal(t, "FUNCTIONAL_ERROR", errCode(out))
	assert.EqualValues(t, 400, e["extensions"].(map[string]any)["data"].(map[string]any)["http_status"])
	s.SetGraphQLFaults(GraphQLFaults{ErrorEvery: 1})
	_, out = gql(t, srv.URL, "tok", qPing, map[string]any{"id": testConnectorID})
	assert.Equal(t, "LOCK_ERROR", errCode(out), "the default injected error is a lock timeout")
}

// sseMiddleware.js: `live` without BYPASS, an unknown stream and a bad token are all 401 with
// a reason phrase and no body; never 404.
func TestStream401AsOpenCTI(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.SetBypass(false)
	resp, _ := readEvents(t, srv.URL+"/stream/live", nil, 1)
	assert.Equal(t, "401 You are not authorized, please check your credentials", resp.Status)
	s.SetBypass(true)
	resp, evs := readEvents(t, srv.URL+"/stream/live", nil, 1)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Len(t, evs, 1)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/stream/live", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "401 You are not authenticated, please check your credentials", resp.Status)
}
