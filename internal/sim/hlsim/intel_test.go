package hlsim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
)

const token = "sim-token"

func newSim(t *testing.T) (*hlsim.Server, *harfanglab.Client, string) {
	t.Helper()
	sim := hlsim.New(token)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cl, err := harfanglab.NewClient(harfanglab.ClientConfig{URL: srv.URL, Token: token, MaxRetries: 0, RetryBase: time.Millisecond})
	require.NoError(t, err)
	return sim, cl, srv.URL
}

type source struct {
	ID, Name string
}

type listPage struct {
	Count   int               `json:"count"`
	Next    *string           `json:"next"`
	Results []json.RawMessage `json:"results"`
}

func createSource(t *testing.T, cl *harfanglab.Client, kind, name string) string {
	t.Helper()
	var s source
	require.NoError(t, cl.Post(t.Context(), "threat_intelligence/"+kind, map[string]any{"name": name, "enabled": true}, &s))
	require.NotEmpty(t, s.ID)
	return s.ID
}

func TestAuthAndTrailingSlashRedirect(t *testing.T) {
	_, _, base := newSim(t)
	resp, err := http.Get(base + "/api/data/threat_intelligence/IOCSource/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	req, _ := http.NewRequest(http.MethodGet, base+"/api/data/threat_intelligence/IOCSource?name__exact=x", nil)
	req.Header.Set("Authorization", "Token "+token)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "/api/data/threat_intelligence/IOCSource/?name__exact=x", resp.Header.Get("Location"))
}

func TestSourcesFindByExactName(t *testing.T) {
	sim, cl, _ := newSim(t)
	id := createSource(t, cl, "IOCSource", "from_OpenCTI")
	createSource(t, cl, "IOCSource", "from_OpenCTI_other")
	var p listPage
	require.NoError(t, cl.Get(t.Context(), "threat_intelligence/IOCSource", url.Values{"name__exact": {"from_OpenCTI"}, "limit": {"10"}}, &p))
	require.Equal(t, 1, p.Count)
	var s source
	require.NoError(t, json.Unmarshal(p.Results[0], &s))
	assert.Equal(t, id, s.ID)
	require.NoError(t, cl.Get(t.Context(), "threat_intelligence/IOCSource", url.Values{"search": {"opencti"}}, &p))
	assert.Equal(t, 2, p.Count)
	assert.Equal(t, []string{"from_OpenCTI", "from_OpenCTI_other"}, sim.Sources("IOCSource"))

	err := cl.Post(t.Context(), "threat_intelligence/IOCSource", map[string]any{"name": ""}, nil)
	var apiErr *harfanglab.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.Status)
}

func TestIOCRuleLifecycle(t *testing.T) {
	sim, cl, _ := newSim(t)
	ctx := t.Context()
	src := createSource(t, cl, "IOCSource", "from_OpenCTI")
	body := map[string]any{"source_id": src, "type": "url", "value": "http://e.com/?q=a+b#x", "comment": `{"indicator_ids":["a"]}`, "hl_status": "stable", "enabled": true, "description": "d"}
	var created hlsim.IOCRule
	require.NoError(t, cl.Post(ctx, "threat_intelligence/IOCRule", body, &created))
	require.NotEmpty(t, created.ID)

	err := cl.Post(ctx, "threat_intelligence/IOCRule", body, nil)
	assert.True(t, harfanglab.IsDuplicate(err), "%v", err)
	assert.Contains(t, err.Error(), "Ioc rule with this Type, Value and Source already exists.")

	var p listPage
	require.NoError(t, cl.Get(ctx, "threat_intelligence/IOCRule", url.Values{"source_id": {src}, "type": {"url"}, "value__exact": {"http://e.com/?q=a+b#x"}}, &p))
	require.Equal(t, 1, p.Count, "exact lookup survives +, ? and #")

	var patched hlsim.IOCRule
	require.NoError(t, cl.Patch(ctx, "threat_intelligence/IOCRule/"+created.ID, map[string]any{"enabled": false, "block_on_agent": true}, &patched))
	assert.False(t, patched.Enabled)
	assert.True(t, patched.BlockOnAgent)
	assert.Equal(t, "d", patched.Description, "PATCH keeps the fields it does not name")

	iocs := sim.IOCs("from_OpenCTI")
	require.Len(t, iocs, 1)
	assert.False(t, iocs[0].Enabled)
	assert.Equal(t, `{"indicator_ids":["a"]}`, iocs[0].Comment)

	require.NoError(t, cl.Delete(ctx, "threat_intelligence/IOCRule/"+created.ID))
	assert.Empty(t, sim.IOCs("from_OpenCTI"))
	assert.True(t, harfanglab.IsNotFound(cl.Delete(ctx, "threat_intelligence/IOCRule/"+created.ID)))
	assert.True(t, harfanglab.IsNotFound(cl.Get(ctx, "threat_intelligence/IOCRule/"+created.ID, nil, nil)))
	assert.EqualValues(t, 6, sim.WriteCount(), "source POST, 2 IOC POSTs, PATCH, 2 DELETEs")
}

func TestIOCRuleValidation(t *testing.T) {
	_, cl, _ := newSim(t)
	src := createSource(t, cl, "IOCSource", "l")
	for name, body := range map[string]map[string]any{
		"bad type":    {"source_id": src, "type": "email", "value": "a@b.c"},
		"null type":   {"source_id": src, "type": nil, "value": "a.com"},
		"empty value": {"source_id": src, "type": "domain_name", "value": ""},
		"number":      {"source_id": src, "type": "domain_name", "value": 12},
		"list":        {"source_id": src, "type": "domain_name", "value": []string{"a", "b"}},
		"bad hash":    {"source_id": src, "type": "hash", "value": "xyz"},
		"no source":   {"source_id": "nope", "type": "domain_name", "value": "a.com"},
	} {
		err := cl.Post(t.Context(), "threat_intelligence/IOCRule", body, nil)
		var apiErr *harfanglab.APIError
		if assert.ErrorAs(t, err, &apiErr, name) {
			assert.Equal(t, 400, apiErr.Status, name)
			assert.False(t, harfanglab.IsDuplicate(err), name)
		}
	}
	require.NoError(t, cl.Post(t.Context(), "threat_intelligence/IOCRule", map[string]any{"source_id": src, "type": "hash", "value": strings.Repeat("ab", 32)}, nil))
}

func TestIOCRulePaginationWithRelativeNext(t *testing.T) {
	sim, cl, base := newSim(t)
	sim.SeedIOCs("from_OpenCTI", 1234)
	sim.SeedIOCs("other", 5)

	// Raw request: `next` must be a relative path carrying the filters.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/data/threat_intelligence/IOCRule/?limit=100", nil)
	req.Header.Set("Authorization", "Token "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var p listPage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	resp.Body.Close()
	require.NotNil(t, p.Next)
	assert.True(t, strings.HasPrefix(*p.Next, "/api/data/threat_intelligence/IOCRule/?"), *p.Next)
	assert.Equal(t, 1239, p.Count)

	var srcs listPage
	require.NoError(t, cl.Get(t.Context(), "threat_intelligence/IOCSource", url.Values{"name__exact": {"from_OpenCTI"}}, &srcs))
	var s source
	require.NoError(t, json.Unmarshal(srcs.Results[0], &s))
	seen := map[string]bool{}
	require.NoError(t, cl.List(t.Context(), "threat_intelligence/IOCRule", url.Values{"source_id": {s.ID}, "limit": {"100"}}, func(raw json.RawMessage) error {
		var r hlsim.IOCRule
		require.NoError(t, json.Unmarshal(raw, &r))
		seen[r.Value] = true
		return nil
	}))
	assert.Len(t, seen, 1234)
}

type statusAnswer struct {
	Status []struct {
		Status   bool    `json:"status"`
		Code     any     `json:"code"`
		Content  string  `json:"content"`
		ID       *string `json:"id"`
		Filename string  `json:"filename"`
	} `json:"status"`
}

func TestSigmaAndYara(t *testing.T) {
	sim, cl, _ := newSim(t)
	ctx := t.Context()
	sig := createSource(t, cl, "SigmaSource", "from_OpenCTI")
	yara := createSource(t, cl, "YaraSource", "from_OpenCTI")

	var ans statusAnswer
	require.NoError(t, cl.Post(ctx, "threat_intelligence/SigmaRule", map[string]any{"source_id": sig, "name": "r1 [x]", "content": "title: T\nlogsource: {}\ndetection:\n  condition: a\n", "hl_status": "stable", "enabled": true}, &ans))
	require.Len(t, ans.Status, 1)
	require.True(t, ans.Status[0].Status)
	require.NotNil(t, ans.Status[0].ID)
	sigID := *ans.Status[0].ID

	ans = statusAnswer{}
	require.NoError(t, cl.Post(ctx, "threat_intelligence/SigmaRule", map[string]any{"source_id": sig, "name": "bad", "content": "title: no detection"}, &ans))
	require.Len(t, ans.Status, 1)
	assert.False(t, ans.Status[0].Status)
	assert.Contains(t, ans.Status[0].Content, "detection")

	ans = statusAnswer{}
	require.NoError(t, cl.Post(ctx, "threat_intelligence/YaraFile", map[string]any{"source_id": yara, "name": "y", "content": "rule MAL_X { condition: true }"}, &ans))
	require.True(t, ans.Status[0].Status)
	ans = statusAnswer{}
	require.NoError(t, cl.Post(ctx, "threat_intelligence/YaraFile", map[string]any{"source_id": yara, "name": "y2", "content": "not yara"}, &ans))
	assert.False(t, ans.Status[0].Status)

	err := cl.Post(ctx, "threat_intelligence/SigmaRule", map[string]any{"source_id": sig, "name": strings.Repeat("n", 101), "content": "detection: x"}, nil)
	var apiErr *harfanglab.APIError
	require.ErrorAs(t, err, &apiErr, "names over 100 characters are refused")

	require.NoError(t, cl.Patch(ctx, "threat_intelligence/SigmaRule/"+sigID, map[string]any{"name": "renamed [x]", "content": "title: T2\ndetection:\n  condition: b\n"}, nil))
	rules := sim.SigmaRules("from_OpenCTI")
	require.Len(t, rules, 1)
	assert.Equal(t, "renamed [x]", rules[0].Name)
	assert.Equal(t, "T2", rules[0].RuleName)
	var patched struct{ Errors []string }
	require.NoError(t, cl.Patch(ctx, "threat_intelligence/SigmaRule/"+sigID, map[string]any{"content": "garbage"}, &patched),
		"strict: a refused PATCH is a 200 carrying errors")
	assert.NotEmpty(t, patched.Errors)
	sim.SetLenient(true)
	require.Error(t, cl.Patch(ctx, "threat_intelligence/SigmaRule/"+sigID, map[string]any{"content": "garbage"}, nil))
	sim.SetLenient(false)

	var p listPage
	require.NoError(t, cl.Get(ctx, "threat_intelligence/SigmaRule", url.Values{"source_id": {sig}, "name__exact": {"renamed [x]"}}, &p))
	assert.Equal(t, 1, p.Count)
	require.NoError(t, cl.Delete(ctx, "threat_intelligence/SigmaRule/"+sigID))
	assert.Empty(t, sim.SigmaRules("from_OpenCTI"))
	assert.Len(t, sim.YaraFiles("from_OpenCTI"), 1)
	assert.Equal(t, []string{"MAL_X"}, sim.YaraFiles("from_OpenCTI")[0].RuleNames)
}

func TestMalformedBodyIs400(t *testing.T) {
	_, _, base := newSim(t)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/data/threat_intelligence/IOCRule/", bytes.NewBufferString("{not json"))
	req.Header.Set("Authorization", "Token "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestIOCCountAndWholeListListingFollowWrites(t *testing.T) {
	sim, cl, _ := newSim(t)
	sim.SeedIOCs("a", 3)
	sim.SeedIOCs("b", 2)
	assert.Equal(t, 3, sim.IOCCount("a"))
	assert.Equal(t, 0, sim.IOCCount("none"))
	a, b := sim.IOCs("a"), sim.IOCs("b")
	list := func(src string) (ids []string) {
		require.NoError(t, harfanglab.ListOf(t.Context(), cl, "threat_intelligence/IOCRule", url.Values{"source_id": {src}, "limit": {"2"}},
			func(r struct{ ID string }) error { ids = append(ids, r.ID); return nil }))
		return ids
	}
	assert.Equal(t, []string{a[0].ID, a[1].ID, a[2].ID}, list(a[0].SourceID), "cached listing of a whole list")

	require.NoError(t, cl.Delete(t.Context(), "threat_intelligence/IOCRule/"+a[1].ID))
	moved := a[2]
	require.NoError(t, cl.Patch(t.Context(), "threat_intelligence/IOCRule/"+moved.ID, map[string]any{"source_id": b[0].SourceID}, nil))
	assert.Equal(t, 1, sim.IOCCount("a"))
	assert.Equal(t, 3, sim.IOCCount("b"))
	assert.Equal(t, []string{a[0].ID}, list(a[0].SourceID), "the cache follows a delete and a move")
	assert.Equal(t, []string{moved.ID, b[0].ID, b[1].ID}, list(b[0].SourceID), "creation order")
}
