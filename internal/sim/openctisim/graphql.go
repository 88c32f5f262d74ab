package openctisim

// The GraphQL simulator: POST /graphql answers the connector API the `opencti` output uses
// (opencti-stream-and-api.md §3-§4): registerConnector, pingConnector, workAdd,
// workEdit { toReceived | toProcessed | ping | reportExpectation | addExpectations | delete },
// stixBundlePush and the indicator(id:) query. Operations are recognised by their root field
// name (and the first nested field for workEdit); no full GraphQL parser is involved.
// Errors follow OpenCTI: HTTP 200 with `errors[].extensions.code`.
//
// API used by tests and the demo:
//
//	Objects() / ObjectsOfType(t) / PushCount(id)   what stixBundlePush stored, upserted by STIX id
//	BundlesPushed()                                successful stixBundlePush calls
//	Works() / Connectors()                         works and connectors with their states,
//	                                               registrations and pings as OpenCTI records them
//	ResetConnectorState(id)                        the UI's "reset state" (Data > Ingestion > Connectors)
//	SetSchema(Schema)                              which RegisterConnectorInput fields are accepted
//	SetGraphQLFaults(GraphQLFaults)                GraphQL-level errors (real codes, see ErrLock...) and 503s
//	SetConnectorAPI(bool)                          grant/revoke the CONNECTORAPI capability
//	AddIndicator(internalID, standardID)           indicators known to indicator(id:)
//	GraphQLCalls(op) int                           calls per root field
//	SetCapabilities / SetVersion                   what `me` and `about` answer (identity.go)

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// GraphQLError is an error as OpenCTI builds it (config/errors.ts): a code and its message.
type GraphQLError struct{ Code, Message string }

// Errors OpenCTI really sends that a client should retry, and one it should not. There is no
// ENGINE_ERROR, TOO_MANY_REQUESTS or TIMEOUT_ERROR code.
var (
	// ErrLock: a lock timeout under concurrent upserts of the same entities.
	ErrLock = GraphQLError{"LOCK_ERROR", "Execution timeout, too many concurrent call on the same entities"}
	// ErrDatabase: an engine failure (e.g. unavailable shards).
	ErrDatabase = GraphQLError{"DATABASE_ERROR", "A database error has occurred"}
	// ErrTooManyRequests: the @rateLimit directive's answer (graphql/schema.js).
	ErrTooManyRequests = GraphQLError{"FUNCTIONAL_ERROR", "Too many requests"}
	// ErrFunctional: a business refusal, final.
	ErrFunctional = GraphQLError{"FUNCTIONAL_ERROR", "Business validation"}
)

// httpStatusOf is the http_status OpenCTI puts in extensions.data for a code.
func httpStatusOf(code string) int {
	switch code {
	case "AUTH_REQUIRED", "AUTH_FAILURE":
		return http.StatusUnauthorized
	case "FORBIDDEN_ACCESS":
		return http.StatusForbidden
	case "FUNCTIONAL_ERROR", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED":
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// GraphQLFaults scripts GraphQL misbehaviour. The zero value is a healthy API.
type GraphQLFaults struct {
	// ErrorEvery answers every Nth GraphQL request (counted from SetGraphQLFaults) with Error
	// (default ErrLock, which clients retry).
	ErrorEvery int
	Error      GraphQLError
	// ErrorCode is a shorthand for Error{Code: ErrorCode} with a generic message.
	ErrorCode string
	// Operations limits ErrorEvery to these root fields (empty: every operation).
	Operations []string
	// Status5xxNext answers the next N /graphql requests with HTTP 503.
	Status5xxNext int
}

func (f GraphQLFaults) injected() GraphQLError {
	switch {
	case f.Error.Code != "":
		return f.Error
	case f.ErrorCode != "":
		return GraphQLError{f.ErrorCode, "simulated " + f.ErrorCode}
	}
	return ErrLock
}

// Schema selects the GraphQL schema generation the simulator validates against.
type Schema int

const (
	// SchemaLatest is OpenCTI 6.8.9 to 7.x: every RegisterConnectorInput field pycti sends.
	SchemaLatest Schema = iota
	// Schema65 is OpenCTI 6.5.7 to 6.8.8: no auto_update, enrichment_resolution (nor the newer
	// version, slug, xtm_one_intent); an unknown input field fails the whole request.
	Schema65
)

// registerInputFields are the RegisterConnectorInput fields of each schema.
func (sc Schema) registerInputFields() map[string]bool {
	f := map[string]bool{"id": true, "name": true, "type": true, "scope": true, "auto": true,
		"only_contextual": true, "playbook_compatible": true, "listen_callback_uri": true}
	if sc == SchemaLatest {
		for _, n := range []string{"auto_update", "enrichment_resolution", "version", "slug", "xtm_one_intent"} {
			f[n] = true
		}
	}
	return f
}

// connectorTypes is the ConnectorType enum.
var connectorTypes = map[string]bool{"EXTERNAL_IMPORT": true, "INTERNAL_IMPORT_FILE": true,
	"INTERNAL_ENRICHMENT": true, "INTERNAL_ANALYSIS": true, "INTERNAL_EXPORT_FILE": true, "STREAM": true}

// Connector is a registered connector as the simulator stores it.
type Connector struct {
	ID, Name, Type string
	Scope          []string
	Auto           bool
	State          string // connector_state: last state sent by pingConnector ("" none or reset)
	StateReset     bool   // connector_state_reset: set by ResetConnectorState, cleared by the next ping
	Registrations  int
	Pings          int
	LastPing       time.Time
	// LastRegistration is the RegisterConnectorInput of the last registration, as sent.
	LastRegistration map[string]any
	// PingStates are the states sent by every ping, in order (absent: "<none>").
	PingStates []string
}

// Work is one connector work (import job).
type Work struct {
	ID, ConnectorID, Name string
	Status                string // "progress" until toProcessed, then "complete"
	Received              bool
	Message               string
	InError               bool
	Bundles               int // stixBundlePush calls carrying this work id
	Expectations          int
	Errors                []string
}

type graphStore struct {
	connectors   map[string]*Connector
	works        map[string]*Work
	workOrder    []string
	objects      map[string]map[string]any
	pushCount    map[string]int
	bundles      int
	indicators   map[string]string // internal or standard id → standard id
	calls        map[string]int
	faults       GraphQLFaults
	faultCounter int
	noConnector  bool // CONNECTORAPI capability revoked
	schema       Schema
}

func newGraphStore() *graphStore {
	return &graphStore{
		connectors: map[string]*Connector{}, works: map[string]*Work{},
		objects: map[string]map[string]any{}, pushCount: map[string]int{},
		indicators: map[string]string{}, calls: map[string]int{},
	}
}

func (s *Server) registerGraphQL() { s.mux.HandleFunc("POST /graphql", s.serveGraphQL) }

// SetGraphQLFaults replaces the GraphQL faults and restarts their counter.
func (s *Server) SetGraphQLFaults(f GraphQLFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graph.faults = f
	s.graph.faultCounter = 0
}

// SetSchema selects the schema generation (default SchemaLatest).
func (s *Server) SetSchema(sc Schema) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graph.schema = sc
}

// ResetConnectorState is what "reset state" does in OpenCTI's UI (resetStateConnector): the
// state becomes "" and the next ping, instead of storing the connector's state, only clears the
// reset flag and answers the empty state, so the connector learns of the reset.
func (s *Server) ResetConnectorState(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.graph.connectors[id]
	if c == nil {
		return fmt.Errorf("no connector %s", id)
	}
	c.State, c.StateReset = "", true
	return nil
}

// SetConnectorAPI grants (true, the default) or revokes the CONNECTORAPI capability of the token.
func (s *Server) SetConnectorAPI(granted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graph.noConnector = !granted
}

// AddIndicator makes an indicator known to the indicator(id:) query, by internal or standard id.
func (s *Server) AddIndicator(internalID, standardID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graph.indicators[internalID] = standardID
	s.graph.indicators[standardID] = standardID
}

// Objects returns a copy of every stored object by STIX id.
func (s *Server) Objects() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]any, len(s.graph.objects))
	for id, o := range s.graph.objects {
		out[id] = deepCopy(o)
	}
	return out
}

// ObjectsOfType returns copies of the stored objects of one STIX type, sorted by id.
func (s *Server) ObjectsOfType(t string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, o := range s.graph.objects {
		if o["type"] == t {
			out = append(out, deepCopy(o))
		}
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]["id"]) < fmt.Sprint(out[j]["id"]) })
	return out
}

// PushCount is how many pushed bundles contained the object with this id.
func (s *Server) PushCount(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.graph.pushCount[id]
}

// BundlesPushed is the number of accepted stixBundlePush calls.
func (s *Server) BundlesPushed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.graph.bundles
}

// Works returns copies of the works in creation order.
func (s *Server) Works() []Work {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Work, 0, len(s.graph.workOrder))
	for _, id := range s.graph.workOrder {
		w := *s.graph.works[id]
		w.Errors = append([]string(nil), w.Errors...)
		out = append(out, w)
	}
	return out
}

// Connectors returns copies of the registered connectors sorted by id.
func (s *Server) Connectors() []Connector {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Connector, 0, len(s.graph.connectors))
	for _, c := range s.graph.connectors {
		cc := *c
		cc.Scope = append([]string(nil), c.Scope...)
		cc.LastRegistration = deepCopy(c.LastRegistration)
		cc.PingStates = append([]string(nil), c.PingStates...)
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// GraphQLCalls is the number of requests received for a root field (faulted ones included).
func (s *Server) GraphQLCalls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.graph.calls[op]
}

// gqlError is an OpenCTI-style GraphQL error: the code both as name and extensions.code, the
// HTTP status it stands for in extensions.data (the answer itself is HTTP 200).
type gqlError struct {
	Message    string         `json:"message"`
	Name       string         `json:"name,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func errorOf(code, msg string) *gqlError {
	return &gqlError{Message: msg, Name: code, Extensions: map[string]any{
		"code": code, "data": map[string]any{"http_status": httpStatusOf(code)}}}
}

var (
	rootFieldRe   = regexp.MustCompile(`^[^{]*\{\s*([A-Za-z_][A-Za-z0-9_]*)`)
	nestedFieldRe = regexp.MustCompile(`^[^{]*\{\s*[A-Za-z_][A-Za-z0-9_]*[^{]*\{\s*([A-Za-z_][A-Za-z0-9_]*)`)
)

func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 50<<20)).Decode(&req); err != nil {
		writeGraphQL(w, http.StatusBadRequest, nil, "", errorOf("BAD_USER_INPUT", "invalid JSON body: "+err.Error()))
		return
	}
	m := rootFieldRe.FindStringSubmatch(req.Query)
	if m == nil {
		writeGraphQL(w, http.StatusBadRequest, nil, "", errorOf("GRAPHQL_PARSE_FAILED", "no operation field found"))
		return
	}
	op := m[1]

	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.graph
	g.calls[op]++
	if g.faults.Status5xxNext > 0 {
		g.faults.Status5xxNext--
		http.Error(w, "503 Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	if g.faults.ErrorEvery > 0 && opSelected(g.faults.Operations, op) {
		g.faultCounter++
		if g.faultCounter%g.faults.ErrorEvery == 0 {
			e := g.faults.injected()
			writeGraphQL(w, http.StatusOK, nil, op, errorOf(e.Code, e.Message))
			return
		}
	}
	if g.noConnector && op != "indicator" && op != "me" && op != "about" {
		writeGraphQL(w, http.StatusOK, nil, op, errorOf("FORBIDDEN_ACCESS", "You are not allowed to do this."))
		return
	}
	vars := req.Variables
	var data any
	var gerr *gqlError
	switch op {
	case "registerConnector":
		data, gerr = g.registerConnector(vars)
	case "pingConnector":
		data, gerr = g.pingConnector(vars)
	case "workAdd":
		data, gerr = g.workAdd(vars)
	case "workEdit":
		sub := ""
		if n := nestedFieldRe.FindStringSubmatch(req.Query); n != nil {
			sub = n[1]
		}
		data, gerr = g.workEdit(vars, sub)
	case "stixBundlePush":
		data, gerr = g.stixBundlePush(vars)
	case "indicator":
		data = g.indicator(vars)
	case "me":
		data = s.me()
	case "about":
		data = s.about()
	default:
		gerr = errorOf("GRAPHQL_VALIDATION_FAILED", fmt.Sprintf("Cannot query field %q (not simulated)", op))
	}
	writeGraphQL(w, http.StatusOK, data, op, gerr)
}

func opSelected(ops []string, op string) bool {
	if len(ops) == 0 {
		return true
	}
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func writeGraphQL(w http.ResponseWriter, status int, data any, op string, gerr *gqlError) {
	body := map[string]any{}
	if op != "" {
		body["data"] = map[string]any{op: data}
	}
	if gerr != nil {
		body["errors"] = []*gqlError{gerr}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (g *graphStore) registerConnector(vars map[string]any) (any, *gqlError) {
	in, _ := vars["input"].(map[string]any)
	allowed := g.schema.registerInputFields()
	for k := range in {
		if !allowed[k] {
			b, _ := json.Marshal(in)
			return nil, errorOf("BAD_USER_INPUT", fmt.Sprintf(`Variable "$input" got invalid value %s; Field %q is not defined by type "RegisterConnectorInput".`, b, k))
		}
	}
	id, _ := in["id"].(string)
	name, _ := in["name"].(string)
	typ, _ := in["type"].(string)
	if _, err := uuid.Parse(id); err != nil || len(strings.TrimSpace(name)) < 2 || !connectorTypes[typ] {
		return nil, errorOf("BAD_USER_INPUT", "RegisterConnectorInput needs a UUID id, a name of 2+ characters and a ConnectorType")
	}
	c := g.connectors[id]
	if c == nil {
		c = &Connector{ID: id}
		g.connectors[id] = c
	}
	c.Name, c.Type = name, typ
	c.Scope = nil
	if sc, ok := in["scope"].([]any); ok {
		for _, e := range sc {
			if v, ok := e.(string); ok {
				c.Scope = append(c.Scope, v)
			}
		}
	}
	c.Auto, _ = in["auto"].(bool)
	c.Registrations++
	c.LastRegistration = deepCopy(in)
	c.LastPing = time.Now() // a registration is a heartbeat
	return map[string]any{
		"id": id, "connector_state": nullable(c.State), "connector_user_id": "88ec0c6a-13ce-5e39-b486-354fe4a7084f",
		"config": map[string]any{"push": "push_" + id, "push_routing": "push_routing_" + id, "push_exchange": "amqp.connector.exchange"},
	}, nil
}

// pingConnector follows connector.ts: a pending reset is consumed (flag cleared, the state sent
// is not stored); otherwise the state sent is stored. The answer carries the stored state.
func (g *graphStore) pingConnector(vars map[string]any) (any, *gqlError) {
	id, _ := vars["id"].(string)
	c := g.connectors[id]
	if c == nil {
		return nil, errorOf("FUNCTIONAL_ERROR", "No connector found with the specified ID")
	}
	st, sent := vars["state"].(string)
	if !sent {
		c.PingStates = append(c.PingStates, "<none>")
	} else {
		c.PingStates = append(c.PingStates, st)
	}
	switch {
	case c.StateReset:
		c.StateReset = false
	case sent:
		c.State = st
	}
	c.Pings++
	c.LastPing = time.Now()
	return map[string]any{"id": id, "connector_state": c.State, "connector_info": vars["connectorInfo"]}, nil
}

func (g *graphStore) workAdd(vars map[string]any) (any, *gqlError) {
	cid, _ := vars["connectorId"].(string)
	if g.connectors[cid] == nil {
		return nil, errorOf("FUNCTIONAL_ERROR", "Invalid connector")
	}
	name, _ := vars["friendlyName"].(string)
	w := g.newWork(cid, name)
	return map[string]any{"id": w.ID}, nil
}

func (g *graphStore) newWork(connectorID, name string) *Work {
	w := &Work{ID: "work_" + connectorID + "_" + uuid.NewString(), ConnectorID: connectorID, Name: name, Status: "progress"}
	g.works[w.ID] = w
	g.workOrder = append(g.workOrder, w.ID)
	return w
}

func (g *graphStore) workEdit(vars map[string]any, sub string) (any, *gqlError) {
	id, _ := vars["id"].(string)
	w := g.works[id]
	if w == nil {
		return nil, errorOf("FUNCTIONAL_ERROR", "Work not found")
	}
	switch sub {
	case "toReceived":
		w.Received = true
		w.Message, _ = vars["message"].(string)
	case "toProcessed":
		w.Status = "complete"
		w.Message, _ = vars["message"].(string)
		w.InError, _ = vars["inError"].(bool)
	case "reportExpectation":
		if e, ok := vars["error"].(map[string]any); ok {
			msg, _ := e["error"].(string)
			w.Errors = append(w.Errors, msg)
		}
	case "addExpectations":
		if n, ok := vars["expectations"].(float64); ok {
			w.Expectations += int(n)
		}
	case "ping":
	case "delete":
		delete(g.works, id)
		for i, wid := range g.workOrder {
			if wid == id {
				g.workOrder = append(g.workOrder[:i], g.workOrder[i+1:]...)
				break
			}
		}
	default:
		return nil, errorOf("GRAPHQL_VALIDATION_FAILED", fmt.Sprintf("workEdit field %q is not simulated", sub))
	}
	return map[string]any{sub: id}, nil
}

func (g *graphStore) stixBundlePush(vars map[string]any) (any, *gqlError) {
	cid, _ := vars["connectorId"].(string)
	c := g.connectors[cid]
	if c == nil {
		return nil, errorOf("FUNCTIONAL_ERROR", "Invalid connector")
	}
	raw, _ := vars["bundle"].(string)
	var b struct {
		Type    string           `json:"type"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal([]byte(raw), &b); err != nil || b.Type != "bundle" || len(b.Objects) == 0 {
		return nil, errorOf("FUNCTIONAL_ERROR", "Invalid bundle")
	}
	for _, o := range b.Objects {
		if id, ok := o["id"].(string); !ok || id == "" {
			return nil, errorOf("FUNCTIONAL_ERROR", "Invalid bundle: object without id")
		}
	}
	workID, _ := vars["work_id"].(string)
	w := g.works[workID]
	if w == nil {
		w = g.newWork(cid, c.Name+" run @ "+time.Now().UTC().Format(time.RFC3339))
	}
	w.Bundles++
	for _, o := range b.Objects {
		id := o["id"].(string)
		g.objects[id] = o
		g.pushCount[id]++
	}
	g.bundles++
	return true, nil
}

func (g *graphStore) indicator(vars map[string]any) any {
	id, _ := vars["id"].(string)
	std, ok := g.indicators[id]
	if !ok {
		return nil
	}
	internal := id
	if id == std {
		for k, v := range g.indicators {
			if v == std && k != std {
				internal = k
			}
		}
	}
	return map[string]any{"id": internal, "standard_id": std, "entity_type": "Indicator"}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func deepCopy(o map[string]any) map[string]any {
	b, _ := json.Marshal(o)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
