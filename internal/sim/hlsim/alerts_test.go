package hlsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testPage struct {
	Count    int              `json:"count"`
	Next     *string          `json:"next"`
	Previous *string          `json:"previous"`
	Results  []map[string]any `json:"results"`
}

func getJSON(t *testing.T, base, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Token tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		dec := json.NewDecoder(resp.Body)
		if err := dec.Decode(out); err != nil && err.Error() != "EOF" {
			t.Fatalf("decoding %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func TestAlertListFiltersOrderingAndPagination(t *testing.T) {
	s := New("tok")
	s.SetLenient(true) // `last_update,id` and microseconds: the unconfirmed variants
	srv := httptest.NewServer(s)
	defer srv.Close()

	same := "2026-01-02T03:04:05.000000Z"
	for i := range 25 {
		kind := SampleKinds[i%len(SampleKinds)]
		a := s.SampleAlert(kind, i)
		a["last_update"] = same // many alerts share one timestamp
		if i%5 == 0 {
			a["status"] = "closed"
		}
		s.AddAlert(a)
	}
	later := s.SampleAlert(SampleSigma, 99)
	later["last_update"] = "2026-01-02T04:00:00+01:00" // 03:00Z: before `same`, other offset
	s.AddAlert(later)

	q := url.Values{
		"status": {"new,investigating"}, "alert_type": {"sigma,ioc"},
		"last_update__gte": {"2026-01-02T03:04:05Z"}, "ordering": {"last_update,id"}, "limit": {"4"},
	}
	var all []map[string]any
	next := "/api/data/alert/alert/Alert/?" + q.Encode()
	for pages := 0; next != ""; pages++ {
		require.Less(t, pages, 20)
		var p testPage
		require.Equal(t, http.StatusOK, getJSON(t, srv.URL, next, &p))
		all = append(all, p.Results...)
		next = ""
		if p.Next != nil {
			assert.True(t, strings.HasPrefix(*p.Next, "/api/data/alert/alert/Alert/?"), "relative next: %s", *p.Next)
			next = *p.Next
		}
	}
	require.NotEmpty(t, all)
	for i, a := range all {
		assert.Contains(t, []string{"new", "investigating"}, a["status"])
		assert.Contains(t, []string{"sigma", "ioc"}, a["alert_type"])
		assert.Equal(t, same, a["last_update"])
		if i > 0 {
			assert.Less(t, all[i-1]["id"], a["id"], "ordered by id within one last_update")
		}
	}
	// 25 alerts: kinds cycle over 7 (sigma, yara, 5 ioc), every 5th closed.
	want := 0
	for i := range 25 {
		k := SampleKinds[i%len(SampleKinds)]
		if i%5 != 0 && k != SampleYara {
			want++
		}
	}
	assert.Len(t, all, want)
	assert.NotEmpty(t, s.AlertQueries())
}

func TestSetAlertStatusMovesLastUpdate(t *testing.T) {
	s := New("tok")
	id := s.AddAlert(s.SampleAlert(SampleIOCHash, 1))
	assert.NotContains(t, s.Alert(id), "last_update", "strict: a new alert has no last_update")
	before := s.Alert(id)["alert_time"].(string)
	time.Sleep(time.Millisecond)
	s.SetAlertStatus(id, "investigating")
	after := s.Alert(id)
	assert.Equal(t, "investigating", after["status"])
	tb, err := parseAnyTime(before)
	require.NoError(t, err)
	ta, err := parseAnyTime(after["last_update"].(string))
	require.NoError(t, err)
	assert.True(t, ta.After(tb))
}

func TestThreatsAlertsAndNotes(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	a1 := s.AddAlert(s.SampleAlert(SampleSigma, 1))
	a2 := s.AddAlert(s.SampleAlert(SampleYara, 2))
	s.AddAlert(s.SampleAlert(SampleSigma, 3))
	tid := s.AddThreat(map[string]any{"level": "critical"}, []string{a1, a2},
		[]map[string]any{{"content": "Analyst note: scripted account creation."}})
	bare := s.AddThreat(nil, nil, nil)

	var threats testPage
	require.Equal(t, http.StatusOK, getJSON(t, srv.URL, "/api/data/alert/alert/Threat/?ordering=last_update&limit=10", &threats))
	require.Len(t, threats.Results, 2)
	assert.Equal(t, "critical", threats.Results[0]["level"])
	assert.NotEmpty(t, threats.Results[0]["slug"])
	assert.NotEmpty(t, threats.Results[0]["top_agents"])

	var alerts testPage
	require.Equal(t, http.StatusOK, getJSON(t, srv.URL, "/api/data/alert/alert/Alert/?threat_key="+tid, &alerts))
	assert.Len(t, alerts.Results, 2)

	var note map[string]any
	require.Equal(t, http.StatusOK, getJSON(t, srv.URL, "/api/data/alert/alert/Threat/"+tid+"/note/", &note))
	assert.Equal(t, "Analyst note: scripted account creation.", note["content"])
	assert.NotEmpty(t, note["creation_date"])

	// No note: 200 with an empty body, as HarfangLab answers.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/data/alert/alert/Threat/"+bare+"/note/", nil)
	req.Header.Set("Authorization", "Token tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Zero(t, resp.ContentLength)

	assert.Equal(t, http.StatusNotFound, getJSON(t, srv.URL, "/api/data/alert/alert/Threat/999999/note/", nil))
}

func TestAlertListRejectsBadTokenAndBadLimit(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/data/alert/alert/Alert/", nil)
	req.Header.Set("Authorization", "Token wrong")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, http.StatusBadRequest, getJSON(t, srv.URL, "/api/data/alert/alert/Alert/?limit=x", nil))
}

func TestSampleAlertsHaveWhatTheInputNeeds(t *testing.T) {
	s := New("tok")
	for _, k := range SampleKinds {
		a := s.SampleAlert(k, 7)
		assert.NotEmpty(t, a["alert_type"], k)
		assert.NotEmpty(t, a["rule_name"], k)
		assert.NotEmpty(t, a["msg"], k)
		kind, rule := SampleRuleFor(a, "indicator--3e0f2d6a-7f43-5a2c-9a9b-2d7c2a1d2b11")
		require.NotNil(t, rule, k)
		assert.Contains(t, rule["comment"], "indicator_ids", k)
		if kind == "ioc" {
			assert.Contains(t, a["msg"], rule["value"].(string), k)
		}
	}
}

func TestAddRuleIsServedByTheIntelEndpoints(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	lookups := map[string]string{}
	for _, k := range SampleKinds {
		a := s.SampleAlert(k, 3)
		kind, rule := SampleRuleFor(a, "indicator--3e0f2d6a-7f43-5a2c-9a9b-2d7c2a1d2b11")
		s.AddRule(kind, rule)
		switch kind {
		case "ioc":
			lookups[k] = "/api/data/threat_intelligence/IOCRule/?" + url.Values{"value__exact": {rule["value"].(string)}}.Encode()
		case "sigma":
			lookups[k] = "/api/data/threat_intelligence/SigmaRule/?" + url.Values{"rule_name__exact": {a["rule_name"].(string)}}.Encode()
		case "yara":
			lookups[k] = "/api/data/threat_intelligence/YaraFile/?" + url.Values{"name__exact": {rule["name"].(string)}}.Encode()
		}
	}
	for k, path := range lookups {
		var p testPage
		require.Equal(t, http.StatusOK, getJSON(t, srv.URL, path, &p), k)
		require.Len(t, p.Results, 1, k)
		if k != SampleSigma && k != SampleYara {
			assert.Contains(t, p.Results[0]["comment"], "indicator--3e0f2d6a", k)
		}
	}
	assert.Equal(t, []string{DefaultSourceName}, s.Sources("IOCSource"))
}

func TestStrictListsRefuseUnconfirmedVariantsAndDeepPages(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	base := "/api/data/alert/alert/Alert/?"
	for _, q := range []string{
		"ordering=last_update,id",
		"ordering=alert_time,id",
		"alert_time__gte=2026-01-02T03:04:05.000000Z",
		"last_update__gte=2026-01-02T03:04:05%2B00:00",
		"limit=100&offset=9901",
	} {
		assert.Equal(t, http.StatusBadRequest, getJSON(t, srv.URL, base+q, nil), "strict refuses %s", q)
	}
	for _, q := range []string{
		"ordering=alert_time&alert_time__gte=2026-01-02T03:04:05Z&alert_time__lte=2026-01-02T03:04:06Z",
		"ordering=-alert_time", "ordering=last_update&last_update__gte=2026-01-02T03:04:05Z",
		"limit=100&offset=9900",
	} {
		assert.Equal(t, http.StatusOK, getJSON(t, srv.URL, base+q, nil), "strict accepts %s", q)
	}
	assert.Equal(t, http.StatusBadRequest, getJSON(t, srv.URL, "/api/data/alert/alert/Threat/?ordering=last_update,id", nil))

	// The window message is Elasticsearch's.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+base+"limit=100&offset=9950", nil)
	req.Header.Set("Authorization", "Token tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Contains(t, body["detail"], "Result window is too large")

	s.SetLenient(true)
	for _, q := range []string{"ordering=last_update,id", "alert_time__gte=2026-01-02T03:04:05.000000Z", "limit=100&offset=20000"} {
		assert.Equal(t, http.StatusOK, getJSON(t, srv.URL, base+q, nil), "lenient accepts %s", q)
	}
	id := s.AddAlert(s.SampleAlert(SampleSigma, 1))
	assert.Contains(t, s.Alert(id), "last_update", "lenient: last_update set at creation")
}

func TestAlertTimeOrderingAndWholeSecondFilters(t *testing.T) {
	s := New("tok")
	srv := httptest.NewServer(s)
	defer srv.Close()
	var ids []string
	for i := range 6 {
		a := s.SampleAlert(SampleSigma, i)
		a["alert_time"] = fmt.Sprintf("2026-01-02T03:04:0%d.500000+00:00", 5-i) // reverse order
		ids = append(ids, s.AddAlert(a))
	}
	s.SetAlertsStatus(ids[:3], "investigating")
	var p testPage
	require.Equal(t, http.StatusOK, getJSON(t, srv.URL, "/api/data/alert/alert/Alert/?ordering=alert_time&alert_time__gte=2026-01-02T03:04:02Z&alert_time__lte=2026-01-02T03:04:04Z&limit=10", &p))
	require.Len(t, p.Results, 2, "03:04:02.5 and 03:04:03.5 (04.5 is after the whole-second bound)")
	assert.Equal(t, ids[3], p.Results[0]["id"])
	assert.Equal(t, ids[2], p.Results[1]["id"])
	p = testPage{}
	require.Equal(t, http.StatusOK, getJSON(t, srv.URL, "/api/data/alert/alert/Alert/?ordering=last_update&last_update__gte=2020-01-01T00:00:00Z&limit=10", &p))
	require.Len(t, p.Results, 3, "only the touched alerts have a last_update")
	assert.Equal(t, p.Results[0]["last_update"], p.Results[2]["last_update"], "a bulk change gives one last_update")
}
