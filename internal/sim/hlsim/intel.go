package hlsim

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Source list kinds (the resource names of the HarfangLab API).
const (
	kindIOCSource   = "IOCSource"
	kindSigmaSource = "SigmaSource"
	kindYaraSource  = "YaraSource"
)

// maxNameLen is HarfangLab's limit on source, Sigma and YARA names.
const maxNameLen = 100

// iocTypes are the IOCRule types HarfangLab accepts.
var iocTypes = map[string]bool{
	"hash": true, "url": true, "domain_name": true, "ip_both": true, "ip_src": true, "ip_dst": true,
	"filename": true, "filepath": true,
}

var hexHash = regexp.MustCompile(`^(?i:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$`)

// Source is a named list owning rules.
type Source struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

// IOCRule is one atomic IOC of a source list, as HarfangLab serialises it.
type IOCRule struct {
	ID                   string  `json:"id"`
	SourceID             string  `json:"source_id"`
	Type                 string  `json:"type"`
	Value                string  `json:"value"`
	Description          string  `json:"description"`
	Comment              string  `json:"comment"`
	HLStatus             string  `json:"hl_status"`
	HLLocalTestingStatus *string `json:"hl_local_testing_status"`
	Enabled              bool    `json:"enabled"`
	BlockOnAgent         bool    `json:"block_on_agent"`
	GlobalState          string  `json:"global_state,omitempty"` // newer consoles (K, W, D)
	CreationDate         string  `json:"creation_date"`
	LastUpdate           string  `json:"last_update"`

	seq int64
}

// Rule is one Sigma rule or YARA file of a source list.
type Rule struct {
	ID                   string   `json:"id"`
	SourceID             string   `json:"source_id"`
	Name                 string   `json:"name"`
	RuleName             string   `json:"rule_name,omitempty"`  // Sigma `title:`
	RuleNames            []string `json:"rule_names,omitempty"` // YARA `rule X` names
	Content              string   `json:"content"`
	Description          string   `json:"description"`
	HLStatus             string   `json:"hl_status"`
	HLLocalTestingStatus *string  `json:"hl_local_testing_status"`
	Enabled              bool     `json:"enabled"`
	GlobalState          string   `json:"global_state,omitempty"` // newer consoles (K, W, D)
	CreationDate         string   `json:"creation_date"`
	LastUpdate           string   `json:"last_update"`

	seq int64
	sid string // Sigma `id:` of Content (kept by deriveRuleNames)
}

// intelStore holds the threat-intelligence part (sources, IOC rules, Sigma rules, YARA files).
// Every field is guarded by Server.mu.
type intelStore struct {
	seq     int64
	sources map[string][]*Source // by kind, in creation order

	iocs    map[string]*IOCRule // by id
	iocKeys map[string]string   // source|type|value → id
	// iocSorted caches the IOCs in creation order for listing; nil after a create or delete.
	iocSorted []*IOCRule
	// iocBySource caches, per source id, the IOCs of iocSorted in that source: a listing of a
	// whole list (the output's start) pages through it without filtering every IOC per page.
	// Cleared with iocSorted, and when an update moves an IOC to another source.
	iocBySource map[string][]*IOCRule
	// iocCount is the number of IOCs per source id (IOCCount, polled by benchmarks).
	iocCount map[string]int
	sigma    map[string]*Rule
	yara     map[string]*Rule

	writes atomic.Int64
}

func newIntelStore() *intelStore {
	return &intelStore{
		sources:  map[string][]*Source{},
		iocs:     map[string]*IOCRule{},
		iocKeys:  map[string]string{},
		iocCount: map[string]int{},
		sigma:    map[string]*Rule{},
		yara:     map[string]*Rule{},
	}
}

func iocKey(sourceID, typ, value string) string { return sourceID + "|" + typ + "|" + value }

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func (st *intelStore) next() int64 { st.seq++; return st.seq }

func (st *intelStore) sourceByName(kind, name string) *Source {
	for _, s := range st.sources[kind] {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (st *intelStore) sourceByID(kind, id string) *Source {
	for _, s := range st.sources[kind] {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (st *intelStore) addSource(kind, name, description string, enabled bool) *Source {
	s := &Source{ID: uuid.NewString(), Name: name, Description: description, Enabled: enabled}
	st.sources[kind] = append(st.sources[kind], s)
	return s
}

func (st *intelStore) sortedIOCs(keep func(*IOCRule) bool) []*IOCRule {
	if st.iocSorted == nil {
		st.iocSorted = make([]*IOCRule, 0, len(st.iocs))
		for _, r := range st.iocs {
			st.iocSorted = append(st.iocSorted, r)
		}
		sort.Slice(st.iocSorted, func(i, j int) bool { return st.iocSorted[i].seq < st.iocSorted[j].seq })
	}
	out := make([]*IOCRule, 0, len(st.iocSorted))
	for _, r := range st.iocSorted {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// sourceIOCs is sortedIOCs of the IOCs of one source, cached: callers must not modify it.
func (st *intelStore) sourceIOCs(source string) []*IOCRule {
	if out, ok := st.iocBySource[source]; ok && st.iocSorted != nil {
		return out
	}
	out := st.sortedIOCs(func(r *IOCRule) bool { return r.SourceID == source })
	if st.iocBySource == nil {
		st.iocBySource = map[string][]*IOCRule{}
	}
	st.iocBySource[source] = out
	return out
}

// invalidateIOCs drops the listing caches after a create, a delete or a change of source.
func (st *intelStore) invalidateIOCs() {
	st.iocSorted, st.iocBySource = nil, nil
}

// putIOC stores a new IOC. Callers hold Server.mu.
func (st *intelStore) putIOC(r *IOCRule) {
	st.iocs[r.ID] = r
	st.iocKeys[iocKey(r.SourceID, r.Type, r.Value)] = r.ID
	st.iocCount[r.SourceID]++
	st.invalidateIOCs()
}

// dropIOC removes an IOC. Callers hold Server.mu.
func (st *intelStore) dropIOC(r *IOCRule) {
	delete(st.iocs, r.ID)
	delete(st.iocKeys, iocKey(r.SourceID, r.Type, r.Value))
	st.iocCount[r.SourceID]--
	st.invalidateIOCs()
}

func (st *intelStore) rules(kind string) map[string]*Rule {
	if kind == kindSigmaSource {
		return st.sigma
	}
	return st.yara
}

func sortedRules(m map[string]*Rule, keep func(*Rule) bool) []*Rule {
	out := make([]*Rule, 0, len(m))
	for _, r := range m {
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// validateIOC checks an IOC the way HarfangLab's serializer does; the map is the DRF error body.
func validateIOC(typ string, value any) (string, map[string][]string) {
	errs := map[string][]string{}
	if !iocTypes[typ] {
		errs["type"] = []string{fmt.Sprintf("%q is not a valid choice.", typ)}
	}
	s, ok := value.(string)
	switch {
	case value == nil:
		errs["value"] = []string{"This field may not be null."}
	case !ok:
		errs["value"] = []string{"Not a valid string."}
	case strings.TrimSpace(s) == "":
		errs["value"] = []string{"This field may not be blank."}
	case typ == "hash" && !hexHash.MatchString(s):
		errs["value"] = []string{"Invalid hash value."}
	}
	if len(errs) == 0 {
		return s, nil
	}
	return s, errs
}

// plausibleRule tells whether content looks like a Sigma rule or YARA file HarfangLab would accept.
func plausibleRule(kind, content string) (reason string, ok bool) {
	if kind == kindSigmaSource {
		if !strings.Contains(content, "detection:") {
			return "Invalid Sigma rule: missing 'detection' section", false
		}
		return "", true
	}
	if !strings.Contains(content, "rule ") || !strings.Contains(content, "{") {
		return "Invalid YARA file: no rule found", false
	}
	return "", true
}

var (
	sigmaTitle = regexp.MustCompile(`(?m)^title:\s*(.+?)\s*$`)
	yaraRule   = regexp.MustCompile(`(?m)\brule\s+([A-Za-z_][A-Za-z0-9_]*)`)
)

func deriveRuleNames(r *Rule, kind string) {
	if kind == kindSigmaSource {
		if m := sigmaTitle.FindStringSubmatch(r.Content); m != nil {
			r.RuleName = m[1]
		}
		r.sid = sigmaID(r.Content)
		return
	}
	r.RuleNames = nil
	for _, m := range yaraRule.FindAllStringSubmatch(r.Content, -1) {
		r.RuleNames = append(r.RuleNames, m[1])
	}
}

// ---- exported API for tests, benchmarks and the demo ----

// IOCs returns the current IOC rules of the IOC source list named sourceName, in creation order.
func (s *Server) IOCs(sourceName string) []IOCRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.intel.sourceByName(kindIOCSource, sourceName)
	if src == nil {
		return nil
	}
	var out []IOCRule
	for _, r := range s.intel.sortedIOCs(func(r *IOCRule) bool { return r.SourceID == src.ID }) {
		out = append(out, *r)
	}
	return out
}

// IOCCount is len(IOCs(sourceName)) from a counter: no copy, no walk over the IOCs, so a
// benchmark can poll it while writing without holding the lock for long.
func (s *Server) IOCCount(sourceName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.intel.sourceByName(kindIOCSource, sourceName)
	if src == nil {
		return 0
	}
	return s.intel.iocCount[src.ID]
}

// SigmaRules returns the Sigma rules of the Sigma source list named sourceName.
func (s *Server) SigmaRules(sourceName string) []Rule { return s.rulesOf(kindSigmaSource, sourceName) }

// YaraFiles returns the YARA files of the YARA source list named sourceName.
func (s *Server) YaraFiles(sourceName string) []Rule { return s.rulesOf(kindYaraSource, sourceName) }

func (s *Server) rulesOf(kind, sourceName string) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.intel.sourceByName(kind, sourceName)
	if src == nil {
		return nil
	}
	var out []Rule
	for _, r := range sortedRules(s.intel.rules(kind), func(r *Rule) bool { return r.SourceID == src.ID }) {
		c := *r
		c.RuleNames = append([]string(nil), r.RuleNames...)
		out = append(out, c)
	}
	return out
}

// Sources returns the names of the source lists of one kind ("IOCSource", "SigmaSource", "YaraSource").
func (s *Server) Sources(kind string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, src := range s.intel.sources[kind] {
		out = append(out, src.Name)
	}
	return out
}

// ensureSource returns the id of the source list, creating it if needed. Callers hold s.mu.
func (s *Server) ensureSource(kind, name string) string {
	if src := s.intel.sourceByName(kind, name); src != nil {
		return src.ID
	}
	return s.intel.addSource(kind, name, "created by the simulator", true).ID
}

// AddIOC stores r in the IOC list named sourceName (created if missing), as an analyst or
// another tool would, and returns it with its id. Type and value are not validated.
func (s *Server) AddIOC(sourceName string, r IOCRule) IOCRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.SourceID = s.ensureSource(kindIOCSource, sourceName)
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	r.seq = s.intel.next()
	r.CreationDate, r.LastUpdate = now(), now()
	stored := r
	s.intel.putIOC(&stored)
	return r
}

// AddSigmaRule stores r in the Sigma list named sourceName (created if missing).
func (s *Server) AddSigmaRule(sourceName string, r Rule) Rule {
	return s.addRule(kindSigmaSource, sourceName, r)
}

// AddYaraFile stores r in the YARA list named sourceName (created if missing).
func (s *Server) AddYaraFile(sourceName string, r Rule) Rule {
	return s.addRule(kindYaraSource, sourceName, r)
}

func (s *Server) addRule(kind, sourceName string, r Rule) Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.SourceID = s.ensureSource(kind, sourceName)
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	r.seq = s.intel.next()
	r.CreationDate, r.LastUpdate = now(), now()
	deriveRuleNames(&r, kind)
	stored := r
	s.intel.rules(kind)[r.ID] = &stored
	return r
}

// SeedIOCs pre-fills the IOC list named sourceName with n enabled domain IOCs, each owned by
// its own indicator in the connector's comment format (for index-load benchmarks).
func (s *Server) SeedIOCs(sourceName string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	srcID := s.ensureSource(kindIOCSource, sourceName)
	ts := now()
	for i := 0; i < n; i++ {
		owner := uuid.NewString()
		r := &IOCRule{
			ID: uuid.NewString(), SourceID: srcID, Type: "domain_name",
			Value:       fmt.Sprintf("seed-%d.example.com", i),
			Description: "seeded",
			Comment:     fmt.Sprintf(`{"indicator_id":%q,"indicator_ids":[%q],"indicator_score":50,"indicator_platforms":["windows"]}`, owner, owner),
			HLStatus:    "stable", Enabled: true, CreationDate: ts, LastUpdate: ts,
			seq: s.intel.next(),
		}
		s.intel.putIOC(r)
	}
}

// WriteCount is the number of POST, PATCH, PUT and DELETE requests served on intel endpoints.
func (s *Server) WriteCount() int64 { return s.intel.writes.Load() }
