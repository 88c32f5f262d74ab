package hlsim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Paths of the security-event endpoints, as HarfangLab serves them (DRF, trailing slash).
const (
	alertListPath  = "/api/data/alert/alert/Alert/"
	threatListPath = "/api/data/alert/alert/Threat/"
	// alertDefaultPageSize is what a list answers without `limit` (DRF PAGE_SIZE).
	alertDefaultPageSize = 10
	alertMaxPageSize     = 10000
	// defaultResultWindow is Elasticsearch's index.max_result_window: strict lists refuse
	// offset + limit beyond it (SetResultWindow changes it, as an administrator can).
	defaultResultWindow = 10000
)

// Time fields the lists filter on (field__gte, __gt, __lte, __lt).
var (
	alertTimeFields  = []string{"last_update", "alert_time", "@event_create_date"}
	threatTimeFields = []string{"last_update", "creation_date", "first_seen", "last_seen"}
)

// Orderings a strict list accepts: one field, ascending or descending — the orderings
// HarfangLab's own clients and the OpenCTI connectors send (no `id` tie-break is evidenced).
var (
	alertOrderings  = []string{"alert_time", "last_update"}    // X, H, N
	threatOrderings = []string{"last_update", "creation_date"} // X, N
)

// evidencedTimeFormat is the only time form evidenced in filters (`%Y-%m-%dT%H:%M:%SZ`, used by
// the XSOAR integration and the SDK).
var evidencedTimeFormat = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)

// refusedQuery is strictQueryErrors on a strict console, nil on a lenient one. The caller holds
// s.mu.
func (s *Server) refusedQuery(q url.Values, orderings, timeFields []string) map[string][]string {
	if s.lenient {
		return nil
	}
	return strictQueryErrors(q, orderings, timeFields)
}

// strictQueryErrors answers, as DRF/django-filter would, the ordering or time-filter values
// that are not evidenced as accepted by a real console (nil when the query is fine).
func strictQueryErrors(q url.Values, orderings, timeFields []string) map[string][]string {
	bad := map[string][]string{}
	if ord := q.Get("ordering"); ord != "" {
		f := strings.TrimPrefix(strings.TrimPrefix(ord, "-"), "+")
		if !slices.Contains(orderings, f) {
			bad["ordering"] = []string{fmt.Sprintf("Invalid ordering %q: use one of %s, optionally prefixed by '-'.", ord, strings.Join(orderings, ", "))}
		}
	}
	for _, f := range timeFields {
		for _, op := range []string{"gte", "gt", "lte", "lt"} {
			if v := q.Get(f + "__" + op); v != "" && !evidencedTimeFormat.MatchString(v) {
				bad[f+"__"+op] = []string{"Enter a valid date/time."}
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}

// alertTimeLayout is how the simulator writes timestamps: UTC, microseconds, like HarfangLab's
// `last_update` / threat `creation_date`.
const alertTimeLayout = "2006-01-02T15:04:05.000000Z"

// alertStore holds security events (alerts), threats and their notes. Guarded by Server.mu.
type alertStore struct {
	alerts      []map[string]any
	alertIndex  map[string]int // id → position in alerts
	threats     []map[string]any
	threatIndex map[string]int // id (decimal) → position in threats
	notes       map[string][]map[string]any
	nextThreat  int
	lastStamp   time.Time
	queries     []string // path?query of every list request, for tests asserting filters

	// index[f] lists the positions of the alerts having time field f (alert_time,
	// last_update), ordered by (f, id), with their parsed times; rebuilt after changes. It makes
	// the input's listings cheap at 40 000 alerts.
	index map[string]*timeIndex
	dirty bool
}

// timeIndex orders alerts on one time field.
type timeIndex struct {
	pos   []int       // alert positions, ordered by (time, id)
	times []time.Time // times[k] is the time of alerts[pos[k]]
	nulls []int       // alerts without the field (listed last, as Elasticsearch does)
}

// indexedFields are the time fields the simulator keeps an ordered index for.
var indexedFields = []string{"alert_time", "last_update"}

func newAlertStore() *alertStore {
	return &alertStore{
		alertIndex:  map[string]int{},
		threatIndex: map[string]int{},
		notes:       map[string][]map[string]any{},
		nextThreat:  100,
	}
}

func (s *Server) registerAlerts() {
	s.mux.HandleFunc("GET "+alertListPath+"{$}", s.listAlerts)
	s.mux.HandleFunc("GET "+alertListPath+"{id}/{$}", s.getAlert)
	s.mux.HandleFunc("GET "+threatListPath+"{$}", s.listThreats)
	s.mux.HandleFunc("GET "+threatListPath+"{id}/{$}", s.getThreat)
	s.mux.HandleFunc("GET "+threatListPath+"{id}/note/{$}", s.getThreatNote)
}

// stamp returns a strictly increasing timestamp so every update moves `last_update` forward.
// Callers hold s.mu.
func (st *alertStore) stamp() time.Time {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.After(st.lastStamp) {
		now = st.lastStamp.Add(time.Microsecond)
	}
	st.lastStamp = now
	return now
}

// AddAlert stores a security event and returns its id. Missing `id`, `alert_unique_id`,
// `alert_time`, `@event_create_date` and `last_update` are filled in (now, for the dates); the
// map is copied.
func (s *Server) AddAlert(a map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.alerts
	a = deepCopy(a)
	id, _ := a["id"].(string)
	if id == "" {
		id = esID()
		a["id"] = id
	}
	if _, ok := a["alert_unique_id"]; !ok {
		a["alert_unique_id"] = uuid.NewString()
	}
	now := st.stamp()
	if _, ok := a["alert_time"]; !ok {
		a["alert_time"] = now.Format("2006-01-02T15:04:05.000000+00:00") // µs: alerts added in a burst stay distinct
	}
	if _, ok := a["@event_create_date"]; !ok {
		a["@event_create_date"] = now.Format("2006-01-02T15:04:05.000Z")
	}
	// Strict: a new alert has no last_update until someone touches it (the OpenCTI connectors
	// treat it as optional, SEKOIA's real exports have none). Lenient: set at creation.
	if _, ok := a["last_update"]; !ok && s.lenient {
		a["last_update"] = now.Format(alertTimeLayout)
	}
	st.dirty = true
	if i, ok := st.alertIndex[id]; ok {
		st.alerts[i] = a
		return id
	}
	st.alertIndex[id] = len(st.alerts)
	st.alerts = append(st.alerts, a)
	return id
}

// Alert returns a copy of the stored alert (nil if unknown).
func (s *Server) Alert(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.alerts.alertIndex[id]
	if !ok {
		return nil
	}
	return deepCopy(s.alerts.alerts[i])
}

// AlertCount is the number of stored alerts.
func (s *Server) AlertCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.alerts.alerts)
}

// SetAlertStatus changes an alert's status as an analyst would, which moves its `last_update`.
func (s *Server) SetAlertStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.alerts.alertIndex[id]
	if !ok {
		panic(fmt.Sprintf("hlsim: SetAlertStatus: unknown alert %q", id))
	}
	a := s.alerts.alerts[i]
	a["status"] = status
	a["last_update"] = s.alerts.stamp().Format(alertTimeLayout)
	s.alerts.dirty = true
}

// SetAlertsStatus changes the status of many alerts at once, as HarfangLab's bulk status
// change does (one update_by_query): they all get the same `last_update`.
func (s *Server) SetAlertsStatus(ids []string, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.alerts.stamp().Format(alertTimeLayout)
	for _, id := range ids {
		i, ok := s.alerts.alertIndex[id]
		if !ok {
			panic(fmt.Sprintf("hlsim: SetAlertsStatus: unknown alert %q", id))
		}
		s.alerts.alerts[i]["status"] = status
		s.alerts.alerts[i]["last_update"] = now
	}
	s.alerts.dirty = true
}

// AddThreat stores a threat grouping alertIDs (their `threat_key` is set) with its notes, and
// returns the threat id. Missing `id`, `slug`, dates, `status` and `level` are filled in.
func (s *Server) AddThreat(t map[string]any, alertIDs []string, notes []map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.alerts
	t = deepCopy(t)
	var id string
	switch v := t["id"].(type) {
	case float64:
		id = strconv.Itoa(int(v))
	case int:
		id = strconv.Itoa(v)
	default:
		st.nextThreat++
		id = strconv.Itoa(st.nextThreat)
		t["id"] = st.nextThreat
	}
	now := st.stamp().Format(alertTimeLayout)
	setDefault(t, "slug", slugFor(id))
	setDefault(t, "status", "new")
	setDefault(t, "level", "high")
	setDefault(t, "creation_date", now)
	setDefault(t, "first_seen", now)
	setDefault(t, "last_seen", now)
	setDefault(t, "last_update", now)
	numID, _ := strconv.Atoi(id)
	var agents []any
	seenHost := map[string]bool{}
	for _, aid := range alertIDs {
		i, ok := st.alertIndex[aid]
		if !ok {
			panic(fmt.Sprintf("hlsim: AddThreat: unknown alert %q", aid))
		}
		a := st.alerts[i]
		a["threat_key"] = numID
		if ag, ok := a["agent"].(map[string]any); ok {
			if h, _ := ag["hostname"].(string); h != "" && !seenHost[h] {
				seenHost[h] = true
				agents = append(agents, map[string]any{
					"agent_id": ag["agentid"], "agent_hostname": h, "agent_ostype": ag["ostype"],
					"security_event_count": 1,
				})
			}
		}
	}
	if _, ok := t["top_agents"]; !ok && agents != nil {
		t["top_agents"] = agents
	}
	for _, n := range notes {
		n = deepCopy(n)
		setDefault(n, "title", t["slug"])
		setDefault(n, "creation_date", now)
		setDefault(n, "last_update", now)
		st.notes[id] = append(st.notes[id], n)
	}
	if i, ok := st.threatIndex[id]; ok {
		st.threats[i] = t
		return id
	}
	st.threatIndex[id] = len(st.threats)
	st.threats = append(st.threats, t)
	return id
}

// SetThreatStatus changes a threat's status, which moves its `last_update`.
func (s *Server) SetThreatStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.alerts.threatIndex[id]
	if !ok {
		panic(fmt.Sprintf("hlsim: SetThreatStatus: unknown threat %q", id))
	}
	t := s.alerts.threats[i]
	t["status"] = status
	t["last_update"] = s.alerts.stamp().Format(alertTimeLayout)
}

// AlertQueries returns the query strings of the Alert and Threat list requests served so far
// (`Alert/?…` or `Threat/?…`), so tests can check the filters a client sent.
func (s *Server) AlertQueries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.alerts.queries...)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	st := s.alerts
	st.queries = append(st.queries, "Alert/?"+r.URL.RawQuery)
	if bad := s.refusedQuery(q, alertOrderings, alertTimeFields); bad != nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, bad)
		return
	}
	matched, inOrder := st.matchAlerts(q)
	page, err := paginate(r, matched, q, inOrder, s.window())
	s.mu.Unlock()
	writePage(w, page, err)
}

// matchAlerts returns the alerts matching q, already in order when the ordering is one the
// index serves (ascending alert_time or last_update, or the lenient `last_update,id`).
func (st *alertStore) matchAlerts(q url.Values) ([]map[string]any, bool) {
	ord := strings.ReplaceAll(q.Get("ordering"), " ", "")
	field := strings.TrimSuffix(strings.TrimPrefix(ord, "+"), ",id")
	if !slices.Contains(indexedFields, field) {
		var matched []map[string]any
		for _, a := range st.alerts {
			if alertMatches(a, q) {
				matched = append(matched, a)
			}
		}
		return matched, false
	}
	st.reindex()
	ix := st.index[field]
	fq := cloneQuery(q) // minus the bounds the index answers
	start, end := 0, len(ix.pos)
	if v := q.Get(field + "__gte"); v != "" {
		if since, err := parseAnyTime(v); err == nil {
			start = sort.Search(len(ix.pos), func(k int) bool { return !ix.times[k].Before(since) })
			fq.Del(field + "__gte")
		}
	}
	if v := q.Get(field + "__lte"); v != "" {
		if until, err := parseAnyTime(v); err == nil {
			end = sort.Search(len(ix.pos), func(k int) bool { return ix.times[k].After(until) })
			fq.Del(field + "__lte")
		}
	}
	var matched []map[string]any
	for k := start; k < max(start, end); k++ {
		if a := st.alerts[ix.pos[k]]; alertMatches(a, fq) {
			matched = append(matched, a)
		}
	}
	if len(fq) == len(q) { // no bound on the field: alerts without it come last
		for _, i := range ix.nulls {
			if alertMatches(st.alerts[i], fq) {
				matched = append(matched, st.alerts[i])
			}
		}
	}
	return matched, true
}

// reindex rebuilds the time indexes after changes. Callers hold s.mu.
func (st *alertStore) reindex() {
	if !st.dirty && st.index != nil {
		return
	}
	st.index = map[string]*timeIndex{}
	for _, f := range indexedFields {
		ix := &timeIndex{}
		times := make([]time.Time, len(st.alerts))
		for i, a := range st.alerts {
			v, _ := a[f].(string)
			t, err := parseAnyTime(v)
			if err != nil {
				ix.nulls = append(ix.nulls, i)
				continue
			}
			times[i] = t
			ix.pos = append(ix.pos, i)
		}
		sort.SliceStable(ix.pos, func(x, y int) bool {
			i, j := ix.pos[x], ix.pos[y]
			if c := times[i].Compare(times[j]); c != 0 {
				return c < 0
			}
			return fmt.Sprint(st.alerts[i]["id"]) < fmt.Sprint(st.alerts[j]["id"])
		})
		for _, i := range ix.pos {
			ix.times = append(ix.times, times[i])
		}
		st.index[f] = ix
	}
	st.dirty = false
}

func (s *Server) listThreats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.alerts.queries = append(s.alerts.queries, "Threat/?"+r.URL.RawQuery)
	if bad := s.refusedQuery(q, threatOrderings, threatTimeFields); bad != nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, bad)
		return
	}
	var matched []map[string]any
	for _, t := range s.alerts.threats {
		if threatMatches(t, q) {
			matched = append(matched, t)
		}
	}
	page, err := paginate(r, matched, q, false, s.window())
	s.mu.Unlock()
	writePage(w, page, err)
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	s.getIndexed(w, r, func() (map[string]int, []map[string]any) { return s.alerts.alertIndex, s.alerts.alerts })
}

func (s *Server) getThreat(w http.ResponseWriter, r *http.Request) {
	s.getIndexed(w, r, func() (map[string]int, []map[string]any) { return s.alerts.threatIndex, s.alerts.threats })
}

// getIndexed answers one object of a store by its id; store is read under s.mu.
func (s *Server) getIndexed(w http.ResponseWriter, r *http.Request, store func() (map[string]int, []map[string]any)) {
	s.mu.Lock()
	index, objs := store()
	i, ok := index[r.PathValue("id")]
	var body []byte
	if ok {
		body, _ = json.Marshal(objs[i])
	}
	s.mu.Unlock()
	writeFound(w, ok, body)
}

// getThreatNote answers the threat's current note, or — like HarfangLab — 200 with an empty
// body when the threat has none.
func (s *Server) getThreatNote(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	_, ok := s.alerts.threatIndex[id]
	notes := s.alerts.notes[id]
	var body []byte
	if len(notes) > 0 {
		body, _ = json.Marshal(notes[len(notes)-1])
	}
	s.mu.Unlock()
	if !ok {
		writeFound(w, false, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func writeFound(w http.ResponseWriter, ok bool, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"Not found."}`))
		return
	}
	_, _ = w.Write(body)
}

// alertMatches applies the Django-filter style parameters HarfangLab documents for alerts.
// Unknown parameters are ignored, as django-filter does.
func alertMatches(a map[string]any, q url.Values) bool {
	if !inList(a["status"], q.Get("status")) || !inList(a["alert_type"], q.Get("alert_type")) ||
		!inList(a["level"], q.Get("level")) || !inList(a["maturity"], q.Get("maturity")) {
		return false
	}
	if v := q.Get("threat_key"); v != "" && fmt.Sprint(a["threat_key"]) != v {
		return false
	}
	if v := q.Get("id"); v != "" && a["id"] != v {
		return false
	}
	return timeFiltersMatch(a, q, alertTimeFields...)
}

func threatMatches(t map[string]any, q url.Values) bool {
	if !inList(t["status"], q.Get("status")) || !inList(t["level"], q.Get("level")) {
		return false
	}
	if v := q.Get("id__gt"); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil && intOf(t["id"]) <= n {
			return false
		}
	}
	return timeFiltersMatch(t, q, threatTimeFields...)
}

// timeFiltersMatch applies field__gte / __gt / __lte / __lt on time fields, comparing instants
// (any offset). An object without the field never matches a filter on it (SQL NULL).
func timeFiltersMatch(obj map[string]any, q url.Values, fields ...string) bool {
	for _, f := range fields {
		for _, op := range []string{"gte", "gt", "lte", "lt"} {
			raw := q.Get(f + "__" + op)
			if raw == "" {
				continue
			}
			want, err := parseAnyTime(raw)
			if err != nil {
				continue // django-filter would answer 400; ignoring keeps the simulator lenient
			}
			s, _ := obj[f].(string)
			got, err := parseAnyTime(s)
			if err != nil {
				return false
			}
			c := got.Compare(want)
			if (op == "gte" && c < 0) || (op == "gt" && c <= 0) || (op == "lte" && c > 0) || (op == "lt" && c >= 0) {
				return false
			}
		}
	}
	return true
}

// inList: an empty filter matches everything; otherwise the value must be one of the comma list.
func inList(v any, list string) bool {
	if list == "" {
		return true
	}
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	for _, item := range strings.Split(list, ",") {
		if strings.TrimSpace(item) == s {
			return true
		}
	}
	return false
}

type listPage struct {
	Count    int              `json:"count"`
	Next     *string          `json:"next"`
	Previous *string          `json:"previous"`
	Results  []map[string]any `json:"results"`
}

// paginate orders objects per `ordering` (unless they already are: inOrder) and cuts the limit/offset page, with relative `next`
// and `previous` links as HarfangLab returns them.
func paginate(r *http.Request, objs []map[string]any, q url.Values, inOrder bool, window int) ([]byte, error) {
	sorted := append([]map[string]any(nil), objs...)
	if ord := q.Get("ordering"); ord != "" && !inOrder {
		sortBy(sorted, strings.Split(ord, ","))
	}
	limit := alertDefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid limit %q", v)
		}
		limit = min(n, alertMaxPageSize)
	}
	offset := 0
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid offset %q", v)
		}
		offset = n
	}
	if window > 0 && offset+limit > window {
		// Strict: Elasticsearch refuses to page deeper than its result window (its own words).
		return nil, fmt.Errorf("Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", window, offset+limit) //nolint:revive,staticcheck // Elasticsearch's message, verbatim
	}
	p := listPage{Count: len(sorted), Results: []map[string]any{}}
	if offset < len(sorted) {
		p.Results = sorted[offset:min(offset+limit, len(sorted))]
	}
	link := func(off int) *string {
		nq := cloneQuery(q)
		nq.Set("limit", strconv.Itoa(limit))
		nq.Set("offset", strconv.Itoa(off))
		s := r.URL.Path + "?" + nq.Encode()
		return &s
	}
	if offset+limit < len(sorted) {
		p.Next = link(offset + limit)
	}
	if offset > 0 {
		p.Previous = link(max(0, offset-limit))
	}
	return json.Marshal(p)
}

func writePage(w http.ResponseWriter, body []byte, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		b, _ := json.Marshal(map[string]string{"detail": err.Error()})
		_, _ = w.Write(b)
		return
	}
	_, _ = w.Write(body)
}

// sortBy orders objects on DRF ordering keys (`field` ascending, `-field` descending): time-like
// strings as instants, numbers as numbers, the rest as strings. Keys are computed once per
// object, which keeps listing 20 000 alerts cheap.
func sortBy(objs []map[string]any, keys []string) {
	type sortKey struct {
		field string
		desc  bool
	}
	var ks []sortKey
	for _, k := range keys {
		k = strings.TrimSpace(k)
		ks = append(ks, sortKey{field: strings.TrimPrefix(strings.TrimPrefix(k, "-"), "+"), desc: strings.HasPrefix(k, "-")})
	}
	type row struct {
		obj  map[string]any
		vals []sortValue
	}
	rows := make([]row, len(objs))
	for i, o := range objs {
		rows[i].obj = o
		for _, k := range ks {
			rows[i].vals = append(rows[i].vals, sortValueOf(o[k.field]))
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for n, k := range ks {
			c := rows[i].vals[n].compare(rows[j].vals[n])
			if c == 0 {
				continue
			}
			if k.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
	for i := range rows {
		objs[i] = rows[i].obj
	}
}

// sortValue is a field value prepared for comparison.
type sortValue struct {
	null  bool
	isT   bool
	t     time.Time
	isNum bool
	num   float64
	s     string
}

func sortValueOf(v any) sortValue {
	switch x := v.(type) {
	case nil:
		return sortValue{null: true}
	case string:
		if t, err := parseAnyTime(x); err == nil {
			return sortValue{isT: true, t: t, s: x}
		}
		return sortValue{s: x}
	case float64:
		return sortValue{isNum: true, num: x}
	case int:
		return sortValue{isNum: true, num: float64(x)}
	}
	return sortValue{s: fmt.Sprint(v)}
}

func (a sortValue) compare(b sortValue) int {
	switch {
	case a.null || b.null:
		switch {
		case a.null && b.null:
			return 0
		case a.null:
			return -1
		}
		return 1
	case a.isT && b.isT:
		return a.t.Compare(b.t)
	case a.isNum && b.isNum:
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	}
	return strings.Compare(a.s, b.s)
}

func parseAnyTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

func intOf(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}

func cloneQuery(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func setDefault(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// deepCopy copies a JSON-like value through JSON, so stored objects never alias the caller's.
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("hlsim: object is not JSON: %v", err))
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// esID makes an Elasticsearch-style document id (20 url-safe characters), like alert ids.
func esID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

var slugWords = [...]string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "lucky", "proud", "witty"}
var slugAnimals = [...]string{"otter", "falcon", "badger", "heron", "lynx", "marten", "osprey", "puffin", "tapir", "wombat"}

func slugFor(id string) string {
	n, _ := strconv.Atoi(id)
	return fmt.Sprintf("%s-%s-%s", slugWords[n%len(slugWords)], slugAnimals[(n/len(slugWords))%len(slugAnimals)], id)
}

// SetResultWindow sets the lists' result window (Elasticsearch's index.max_result_window, which
// a console administrator may change); 0 restores the default.
func (s *Server) SetResultWindow(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resultWindow = n
}

// window is the result window strict lists enforce (0: none, the lenient console). The caller
// holds s.mu.
func (s *Server) window() int {
	switch {
	case s.lenient:
		return 0
	case s.resultWindow > 0:
		return s.resultWindow
	}
	return defaultResultWindow
}
