package hlsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// intelBase is where HarfangLab serves its threat-intelligence resources.
const intelBase = "/api/data/threat_intelligence/"

// defaultPageSize is the page size when a request sets no limit (small, like DRF defaults).
const defaultPageSize = 10

// maxPageSize caps `limit`.
const maxPageSize = 10000

func (s *Server) registerIntel() {
	for _, kind := range []string{kindIOCSource, kindSigmaSource, kindYaraSource} {
		s.mux.HandleFunc("GET "+intelBase+kind+"/{$}", s.listSources(kind))
		s.mux.HandleFunc("POST "+intelBase+kind+"/{$}", s.counted(s.createSource(kind)))
	}
	s.mux.HandleFunc("GET "+intelBase+"IOCRule/{$}", s.listIOCs)
	s.mux.HandleFunc("POST "+intelBase+"IOCRule/{$}", s.counted(s.createIOC))
	s.mux.HandleFunc("GET "+intelBase+"IOCRule/{id}/{$}", s.getIOC)
	s.mux.HandleFunc("PATCH "+intelBase+"IOCRule/{id}/{$}", s.counted(s.updateIOC(false)))
	s.mux.HandleFunc("PUT "+intelBase+"IOCRule/{id}/{$}", s.counted(s.updateIOC(true)))
	s.mux.HandleFunc("DELETE "+intelBase+"IOCRule/{id}/{$}", s.counted(s.deleteIOC))
	for resource, kind := range map[string]string{"SigmaRule": kindSigmaSource, "YaraFile": kindYaraSource} {
		s.mux.HandleFunc("GET "+intelBase+resource+"/{$}", s.listRules(kind))
		s.mux.HandleFunc("POST "+intelBase+resource+"/{$}", s.counted(s.createRule(kind)))
		s.mux.HandleFunc("GET "+intelBase+resource+"/{id}/{$}", s.getRule(kind))
		s.mux.HandleFunc("PATCH "+intelBase+resource+"/{id}/{$}", s.counted(s.updateRule(kind)))
		s.mux.HandleFunc("PUT "+intelBase+resource+"/{id}/{$}", s.counted(s.updateRule(kind)))
		s.mux.HandleFunc("DELETE "+intelBase+resource+"/{id}/{$}", s.counted(s.deleteRule(kind)))
	}
}

func (s *Server) counted(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.intel.writes.Add(1)
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
}

func badRequest(w http.ResponseWriter, errs map[string][]string) {
	writeJSON(w, http.StatusBadRequest, errs)
}

// decodeBody reads a JSON object body; fields are kept raw so "absent" and "null" differ.
func decodeBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		badRequest(w, map[string][]string{"non_field_errors": {"JSON parse error - " + err.Error()}})
		return nil, false
	}
	return body, true
}

// field decodes one optional field into out; errs collects DRF-style messages.
func field[T any](body map[string]json.RawMessage, name string, out *T, errs map[string][]string) bool {
	raw, ok := body[name]
	if !ok {
		return false
	}
	if string(raw) == "null" {
		errs[name] = []string{"This field may not be null."}
		return false
	}
	if err := json.Unmarshal(raw, out); err != nil {
		errs[name] = []string{fmt.Sprintf("Invalid value: %s", raw)}
		return false
	}
	return true
}

// required marks the fields of names that body lacks, DRF-style.
func required(body map[string]json.RawMessage, errs map[string][]string, names ...string) {
	for _, n := range names {
		if _, ok := body[n]; !ok && errs[n] == nil {
			errs[n] = []string{"This field is required."}
		}
	}
}

// checkSource marks source_id invalid when no list of kind has that id. Callers hold s.mu.
func (st *intelStore) checkSource(kind, id string, errs map[string][]string) {
	if errs["source_id"] == nil && st.sourceByID(kind, id) == nil {
		errs["source_id"] = []string{fmt.Sprintf("Invalid pk %q - object does not exist.", id)}
	}
}

// pageOf cuts one DRF limit/offset page out of items and builds its relative links.
func pageOf[T any](r *http.Request, items []T) (results []T, next, prev *string) {
	q := r.URL.Query()
	limit := defaultPageSize
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 {
		limit = min(v, maxPageSize)
	}
	offset := 0
	if v, err := strconv.Atoi(q.Get("offset")); err == nil && v > 0 {
		offset = v
	}
	end := min(offset+limit, len(items))
	results = []T{}
	if offset < len(items) {
		results = items[offset:end]
	}
	link := func(off int) *string {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("limit", strconv.Itoa(limit))
		nq.Set("offset", strconv.Itoa(off))
		l := r.URL.Path + "?" + nq.Encode()
		return &l
	}
	if end < len(items) {
		next = link(end)
	}
	if offset > 0 {
		prev = link(max(0, offset-limit))
	}
	return results, next, prev
}

// page answers a DRF page of items.
func page[T any](w http.ResponseWriter, r *http.Request, items []T) {
	results, next, prev := pageOf(r, items)
	writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "next": next, "previous": prev, "results": results})
}

// pageCopy answers a page of stored objects, copying the page while the store is locked.
func pageCopy[T any](w http.ResponseWriter, r *http.Request, mu *sync.Mutex, items []*T) {
	ptrs, next, prev := pageOf(r, items)
	results := make([]T, len(ptrs))
	for i, p := range ptrs {
		results[i] = *p
	}
	mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "next": next, "previous": prev, "results": results})
}

// ---- sources ----

func (s *Server) listSources(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.mu.Lock()
		var out []Source
		for _, src := range s.intel.sources[kind] {
			if q.Has("name__exact") && src.Name != q.Get("name__exact") {
				continue
			}
			if search := q.Get("search"); search != "" && !strings.Contains(strings.ToLower(src.Name), strings.ToLower(search)) {
				continue
			}
			out = append(out, *src)
		}
		s.mu.Unlock()
		page(w, r, out)
	}
}

func (s *Server) createSource(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := decodeBody(w, r)
		if !ok {
			return
		}
		errs := map[string][]string{}
		var name, desc string
		enabled := true
		field(body, "name", &name, errs)
		required(body, errs, "name")
		field(body, "description", &desc, errs)
		field(body, "enabled", &enabled, errs)
		if errs["name"] == nil && (strings.TrimSpace(name) == "" || len(name) > maxNameLen) {
			errs["name"] = []string{"Ensure this field is not blank and has no more than 100 characters."}
		}
		if len(errs) > 0 {
			badRequest(w, errs)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.intel.sourceByName(kind, name) != nil {
			badRequest(w, map[string][]string{"name": {fmt.Sprintf("%s with this name already exists.", kind)}})
			return
		}
		writeJSON(w, http.StatusCreated, s.intel.addSource(kind, name, desc, enabled))
	}
}

// ---- IOC rules ----

func (s *Server) listIOCs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	var out []*IOCRule
	// The exact (source, type, value) filter is the hot path: answer it from the unique key.
	if q.Get("source_id") != "" && q.Get("type") != "" && q.Has("value__exact") {
		if id, ok := s.intel.iocKeys[iocKey(q.Get("source_id"), q.Get("type"), q.Get("value__exact"))]; ok {
			out = append(out, s.intel.iocs[id])
		}
	} else if onlyKeys(q, "source_id", "limit", "offset") && q.Get("source_id") != "" {
		out = s.intel.sourceIOCs(q.Get("source_id")) // a whole list, paged
	} else {
		search := strings.ToLower(q.Get("search"))
		source, typ := q.Get("source_id"), q.Get("type")
		hasExact, exact := q.Has("value__exact"), q.Get("value__exact")
		hasValue, value := q.Has("value"), q.Get("value")
		hasEnabled, enabled := q.Has("enabled"), q.Get("enabled")
		out = s.intel.sortedIOCs(func(ioc *IOCRule) bool {
			switch {
			case source != "" && ioc.SourceID != source,
				typ != "" && ioc.Type != typ,
				hasExact && ioc.Value != exact,
				hasValue && ioc.Value != value,
				hasEnabled && strconv.FormatBool(ioc.Enabled) != enabled,
				search != "" && !strings.Contains(strings.ToLower(ioc.Value+" "+ioc.Comment+" "+ioc.Description), search):
				return false
			}
			return true
		})
	}
	pageCopy(w, r, &s.mu, out)
}

// onlyKeys reports whether q has no parameter other than keys.
func onlyKeys(q url.Values, keys ...string) bool {
	for k := range q {
		if !slices.Contains(keys, k) {
			return false
		}
	}
	return true
}

func (s *Server) getIOC(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ioc, ok := s.intel.iocs[r.PathValue("id")]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, ioc)
}

// applyIOCFields copies the fields present in body onto ioc, validating them.
func applyIOCFields(ioc *IOCRule, body map[string]json.RawMessage, errs map[string][]string) {
	field(body, "type", &ioc.Type, errs)
	if raw, ok := body["value"]; ok {
		var v any
		_ = json.Unmarshal(raw, &v)
		if s, ok := v.(string); ok {
			ioc.Value = s
		} else {
			ioc.Value = "\x00invalid"
			if v == nil {
				errs["value"] = []string{"This field may not be null."}
			} else {
				errs["value"] = []string{"Not a valid string."}
			}
		}
	}
	field(body, "description", &ioc.Description, errs)
	field(body, "comment", &ioc.Comment, errs)
	field(body, "hl_status", &ioc.HLStatus, errs)
	field(body, "enabled", &ioc.Enabled, errs)
	field(body, "block_on_agent", &ioc.BlockOnAgent, errs)
	field(body, "global_state", &ioc.GlobalState, errs)
	if raw, ok := body["hl_local_testing_status"]; ok {
		var v *string
		_ = json.Unmarshal(raw, &v)
		ioc.HLLocalTestingStatus = v
	}
	switch ioc.HLStatus {
	case "stable", "testing", "experimental":
	default:
		errs["hl_status"] = []string{fmt.Sprintf("%q is not a valid choice.", ioc.HLStatus)}
	}
	if errs["value"] == nil {
		if _, verrs := validateIOC(ioc.Type, ioc.Value); verrs != nil {
			for k, v := range verrs {
				errs[k] = v
			}
		}
	} else if !iocTypes[ioc.Type] {
		errs["type"] = []string{fmt.Sprintf("%q is not a valid choice.", ioc.Type)}
	}
}

func duplicateIOC(w http.ResponseWriter) {
	badRequest(w, map[string][]string{"__all__": {"['Ioc rule with this Type, Value and Source already exists.']"}})
}

func (s *Server) createIOC(w http.ResponseWriter, r *http.Request) {
	body, ok := decodeBody(w, r)
	if !ok {
		return
	}
	errs := map[string][]string{}
	ioc := &IOCRule{HLStatus: "stable", Enabled: true}
	field(body, "source_id", &ioc.SourceID, errs)
	required(body, errs, "source_id", "type", "value")
	applyIOCFields(ioc, body, errs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lenient {
		strictIOCValue(ioc.Type, ioc.Value, errs)
	}
	s.intel.checkSource(kindIOCSource, ioc.SourceID, errs)
	if len(errs) > 0 {
		badRequest(w, errs)
		return
	}
	key := iocKey(ioc.SourceID, ioc.Type, ioc.Value)
	if _, dup := s.intel.iocKeys[key]; dup {
		duplicateIOC(w)
		return
	}
	ioc.ID, ioc.seq = uuid.NewString(), s.intel.next()
	ioc.CreationDate, ioc.LastUpdate = now(), now()
	s.intel.putIOC(ioc)
	writeJSON(w, http.StatusCreated, ioc)
}

func (s *Server) updateIOC(full bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := decodeBody(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		cur, ok := s.intel.iocs[r.PathValue("id")]
		if !ok {
			notFound(w)
			return
		}
		errs := map[string][]string{}
		if full {
			required(body, errs, "type", "value", "source_id")
		}
		upd := *cur
		field(body, "source_id", &upd.SourceID, errs)
		applyIOCFields(&upd, body, errs)
		if !s.lenient {
			strictIOCValue(upd.Type, upd.Value, errs)
		}
		s.intel.checkSource(kindIOCSource, upd.SourceID, errs)
		if len(errs) > 0 {
			badRequest(w, errs)
			return
		}
		oldKey, newKey := iocKey(cur.SourceID, cur.Type, cur.Value), iocKey(upd.SourceID, upd.Type, upd.Value)
		if oldKey != newKey {
			if _, dup := s.intel.iocKeys[newKey]; dup {
				duplicateIOC(w)
				return
			}
			delete(s.intel.iocKeys, oldKey)
			s.intel.iocKeys[newKey] = upd.ID
		}
		if upd.SourceID != cur.SourceID {
			s.intel.iocCount[cur.SourceID]--
			s.intel.iocCount[upd.SourceID]++
			s.intel.invalidateIOCs()
		}
		upd.LastUpdate = now()
		*cur = upd
		writeJSON(w, http.StatusOK, cur)
	}
}

func (s *Server) deleteIOC(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ioc, ok := s.intel.iocs[r.PathValue("id")]
	if !ok {
		notFound(w)
		return
	}
	s.intel.dropIOC(ioc)
	w.WriteHeader(http.StatusNoContent)
}

// ---- Sigma rules and YARA files ----

func (s *Server) listRules(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		search := strings.ToLower(q.Get("search"))
		s.mu.Lock()
		var out []Rule
		for _, rule := range sortedRules(s.intel.rules(kind), func(rule *Rule) bool {
			switch {
			case q.Get("source_id") != "" && rule.SourceID != q.Get("source_id"),
				q.Has("name__exact") && rule.Name != q.Get("name__exact"),
				q.Has("rule_name__exact") && rule.RuleName != q.Get("rule_name__exact"),
				search != "" && !strings.Contains(strings.ToLower(rule.Name+" "+rule.Content), search):
				return false
			}
			return true
		}) {
			out = append(out, *rule)
		}
		s.mu.Unlock()
		page(w, r, out)
	}
}

func (s *Server) getRule(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rule, ok := s.intel.rules(kind)[r.PathValue("id")]
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, rule)
	}
}

func applyRuleFields(rule *Rule, body map[string]json.RawMessage, errs map[string][]string) {
	field(body, "name", &rule.Name, errs)
	field(body, "content", &rule.Content, errs)
	field(body, "description", &rule.Description, errs)
	field(body, "hl_status", &rule.HLStatus, errs)
	field(body, "enabled", &rule.Enabled, errs)
	field(body, "global_state", &rule.GlobalState, errs)
	if raw, ok := body["hl_local_testing_status"]; ok {
		var v *string
		_ = json.Unmarshal(raw, &v)
		rule.HLLocalTestingStatus = v
	}
	if errs["name"] == nil && (strings.TrimSpace(rule.Name) == "" || len(rule.Name) > maxNameLen) {
		errs["name"] = []string{"Ensure this field is not blank and has no more than 100 characters."}
	}
	switch rule.HLStatus {
	case "stable", "testing", "experimental":
	default:
		errs["hl_status"] = []string{fmt.Sprintf("%q is not a valid choice.", rule.HLStatus)}
	}
}

func (s *Server) createRule(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := decodeBody(w, r)
		if !ok {
			return
		}
		errs := map[string][]string{}
		rule := &Rule{HLStatus: "stable", Enabled: true}
		field(body, "source_id", &rule.SourceID, errs)
		required(body, errs, "source_id", "content")
		applyRuleFields(rule, body, errs)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.intel.checkSource(kind, rule.SourceID, errs)
		if len(errs) > 0 {
			badRequest(w, errs)
			return
		}
		if !s.lenient {
			strictRuleFields(kind, rule)
		}
		// Bulk-upload style answer: one status entry per uploaded file.
		if reason, ok := plausibleRule(kind, rule.Content); !ok {
			s.ruleAnswer(w, false, codeInvalidRule, reason, nil, rule.Name)
			return
		}
		if kind == kindSigmaSource && !s.lenient {
			if holder := s.intel.sigmaIDTaken(sigmaID(rule.Content), ""); holder != nil {
				s.ruleAnswer(w, false, codeDuplicateRule, "Sigma rule with this id already exists.", nil, rule.Name)
				return
			}
		}
		rule.ID, rule.seq = uuid.NewString(), s.intel.next()
		rule.CreationDate, rule.LastUpdate = now(), now()
		deriveRuleNames(rule, kind)
		s.intel.rules(kind)[rule.ID] = rule
		s.ruleAnswer(w, true, codeCreated, rule.Content, &rule.ID, rule.Name)
	}
}

func (s *Server) updateRule(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := decodeBody(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		cur, ok := s.intel.rules(kind)[r.PathValue("id")]
		if !ok {
			notFound(w)
			return
		}
		errs := map[string][]string{}
		upd := *cur
		field(body, "source_id", &upd.SourceID, errs)
		applyRuleFields(&upd, body, errs)
		s.intel.checkSource(kind, upd.SourceID, errs)
		if len(errs) > 0 {
			badRequest(w, errs)
			return
		}
		if s.lenient {
			if reason, ok := plausibleRule(kind, upd.Content); !ok {
				badRequest(w, map[string][]string{"content": {reason}})
				return
			}
			s.storeRule(kind, cur, upd)
			writeJSON(w, http.StatusOK, cur)
			return
		}
		s.strictUpdateRule(w, kind, cur, upd)
	}
}

// strictUpdateRule answers a PATCH/PUT as D describes: 200 with the object plus `errors` and
// `warnings` lists; a content the engine refuses (or a changed Sigma id, W) is an error and
// nothing is stored. Callers hold s.mu.
func (s *Server) strictUpdateRule(w http.ResponseWriter, kind string, cur *Rule, upd Rule) {
	strictRuleFields(kind, &upd)
	upd.Description = cur.Description
	var errs []string
	if reason, ok := plausibleRule(kind, upd.Content); !ok {
		errs = append(errs, reason)
	} else if kind == kindSigmaSource {
		if old, next := sigmaID(cur.Content), sigmaID(upd.Content); old != "" && next != old {
			errs = append(errs, "The ID of a Sigma rule has to be unique and cannot be modified once the rule has been created.")
		}
	}
	if len(errs) == 0 {
		s.storeRule(kind, cur, upd)
	}
	ans := map[string]any{}
	b, _ := json.Marshal(cur)
	_ = json.Unmarshal(b, &ans)
	ans["errors"], ans["warnings"] = append([]string{}, errs...), []string{}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) storeRule(kind string, cur *Rule, upd Rule) {
	deriveRuleNames(&upd, kind)
	upd.LastUpdate = now()
	*cur = upd
}

func (s *Server) deleteRule(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.intel.rules(kind)
		if _, ok := m[r.PathValue("id")]; !ok {
			notFound(w)
			return
		}
		delete(m, r.PathValue("id"))
		w.WriteHeader(http.StatusNoContent)
	}
}
