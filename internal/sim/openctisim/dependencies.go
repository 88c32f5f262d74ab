package openctisim

// Dependency resolution of the live stream, as OpenCTI's sseMiddleware.js does it
// (opencti-server-evidence.md §2.6):
//
//   - before every element it sends (snapshot or live create/update/merge), the server sends the
//     elements its *_ref/*_refs properties name that this connection has not sent yet (author,
//     markings, a relationship's ends; recursively their own refs first), as `create` events
//     with origin referer `dependencies` and the triggering event's id;
//   - with `no-dependencies: false` it also lists every relationship and sighting from or to the
//     element and sends each one not sent yet, after its own missing refs; so a snapshot element
//     costs one relation lookup on the server, and a relationship names its source as a missing
//     ref, which therefore arrives as a dependency before the element's own turn;
//   - "sent" is a per-connection LRU cache of 5 000 STIX ids (`app:live_stream:cache_max_size`);
//     a snapshot element already in it is not sent again;
//   - on a filtered stream, a relationship that is not visible itself is still sent (as a
//     dependency) when `no-dependencies` is false and one of its ends is visible.
//
// The simulator only knows the elements published on the stream: a ref to anything else is
// taken as an element the platform holds and this connection need not receive (the server would
// send it, the simulator cannot), so it never makes a relationship unpublishable.
//
// API:
//
//	SetDependencyResolution(on)        emulate the above (the default; off is the lenient option:
//	                                   the published events and snapshot elements only)
//	SetStreamFilter(streamID, types)   make only these STIX types visible on the stream

import (
	"container/list"
	"encoding/json"
	"sort"
	"strings"
)

// LiveStreamCacheSize is OpenCTI's default `app:live_stream:cache_max_size`.
const LiveStreamCacheSize = 5000

// objInfo is what dependency resolution needs to know about a STIX object.
type objInfo struct {
	stixID, typ string
	refs        []string // every *_ref / *_refs value, in key order
	ends        []string // a relationship's or sighting's ends
}

// parseObjInfo reads the id, type and references of a STIX object.
func parseObjInfo(data json.RawMessage) objInfo {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return objInfo{}
	}
	var info objInfo
	_ = json.Unmarshal(fields["id"], &info.stixID)
	_ = json.Unmarshal(fields["type"], &info.typ)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if strings.HasSuffix(k, "_ref") || strings.HasSuffix(k, "_refs") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var one string
		var many []string
		if json.Unmarshal(fields[k], &one) == nil && one != "" {
			info.refs = append(info.refs, one)
		} else if json.Unmarshal(fields[k], &many) == nil {
			info.refs = append(info.refs, many...)
		}
		switch k {
		case "source_ref", "target_ref", "sighting_of_ref", "where_sighted_refs":
			if one != "" {
				info.ends = append(info.ends, one)
			}
			info.ends = append(info.ends, many...)
		}
	}
	return info
}

// SetDependencyResolution turns the emulation of the server's dependency resolution on (the
// default, as the server does) or off (lenient: the stream then carries the published events and
// snapshot elements only).
func (s *Server) SetDependencyResolution(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.resolveDeps = on
}

// SetStreamFilter makes only the elements of these STIX types (e.g. "indicator") visible on
// the stream, like an OpenCTI stream filtered on entity types; no types clears the filter.
func (s *Server) SetStreamFilter(streamID string, types ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.stream.log(streamID)
	l.filter = nil
	if len(types) > 0 {
		l.filter = map[string]bool{}
		for _, t := range types {
			l.filter[strings.ToLower(t)] = true
		}
	}
}

func (l *streamLog) visible(typ string) bool { return l.filter == nil || l.filter[typ] }

// index keeps the lookups of dependency resolution up to date for one element change.
func (l *streamLog) index(key string, old, cur *element) {
	if old != nil {
		delete(l.byStix, old.info.stixID)
		for _, end := range old.info.ends {
			delete(l.relsOf[end], key)
		}
	}
	if cur == nil {
		return
	}
	l.byStix[cur.info.stixID] = key
	for _, end := range cur.info.ends {
		if l.relsOf[end] == nil {
			l.relsOf[end] = map[string]bool{}
		}
		l.relsOf[end][key] = true
	}
}

// depCache is the per-connection LRU set of sent STIX ids (lru-cache: `has` does not refresh).
type depCache struct {
	max   int
	order *list.List
	items map[string]*list.Element
}

func newDepCache(size int) *depCache {
	return &depCache{max: size, order: list.New(), items: map[string]*list.Element{}}
}

func (c *depCache) has(id string) bool { _, ok := c.items[id]; return ok }

func (c *depCache) set(id string) {
	if e, ok := c.items[id]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.items[id] = c.order.PushFront(id)
	if c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(string))
	}
}

// connDeps is the dependency state of one connection.
type connDeps struct {
	cache     *depCache
	relations bool // no-dependencies: false
}

// depRun collects the dependency events of one element (called with the server lock held).
type depRun struct {
	l   *streamLog
	d   *connDeps
	id  simEventID
	out []simEvent
}

// missing returns the known, not yet sent elements refs name, their own refs first.
func (r *depRun) missing(refs []string, seen map[string]bool) []element {
	var found []element
	for _, ref := range refs {
		key, ok := r.l.byStix[ref]
		if !ok || seen[ref] || r.d.cache.has(ref) {
			continue
		}
		seen[ref] = true
		found = append(found, r.l.elements[key])
	}
	if len(found) == 0 {
		return nil
	}
	var parents []string
	for _, e := range found {
		parents = append(parents, e.info.refs...)
	}
	return append(r.missing(parents, seen), found...)
}

func (r *depRun) emit(stix json.RawMessage, stixID string) { r.emitAs("create", stix, stixID) }

func (r *depRun) emitAs(event string, stix json.RawMessage, stixID string) {
	env, _ := json.Marshal(map[string]any{
		"data": stix, "message": "creates " + stixID,
		"origin": map[string]string{"referer": "dependencies"}, "version": "4",
	})
	r.out = append(r.out, simEvent{id: r.id, idStr: r.id.String(), name: event, data: env})
	r.d.cache.set(stixID)
}

// refs emits the missing refs of an object (resolveAndPublishMissingRefs).
func (r *depRun) refs(info objInfo) {
	for _, e := range r.missing(info.refs, map[string]bool{}) {
		if !r.d.cache.has(e.info.stixID) {
			r.emit(e.stix, e.info.stixID)
		}
	}
}

// all emits the missing refs and, without no-dependencies, the relationships of an object
// (resolveAndPublishDependencies).
func (r *depRun) all(info objInfo) {
	r.refs(info)
	if !r.d.relations {
		return
	}
	keys := make([]string, 0, len(r.l.relsOf[info.stixID]))
	for k := range r.l.relsOf[info.stixID] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rel := r.l.elements[k]
		if r.d.cache.has(rel.info.stixID) {
			continue
		}
		r.refs(rel.info)
		r.emit(rel.stix, rel.info.stixID)
	}
}

// dependencies returns the events to send before an element with event id id (nil without
// resolution).
func (s *Server) dependencies(l *streamLog, d *connDeps, id simEventID, info objInfo) []simEvent {
	if d == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &depRun{l: l, d: d, id: id}
	r.all(info)
	return r.out
}

// sentOnce marks a snapshot element sent and reports whether it had not been yet.
func (s *Server) sentOnce(d *connDeps, stixID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.cache.has(stixID) {
		return false
	}
	d.cache.set(stixID)
	return true
}

// liveEvents returns what a live event becomes on the wire: its dependencies then itself, or,
// for an invisible relationship with a visible end and dependencies on, the relationship as a
// dependency (publishRelationDependencies); nothing for other invisible events.
func (s *Server) liveEvents(l *streamLog, d *connDeps, e simEvent) []simEvent {
	s.mu.Lock()
	visible := l.visible(e.info.typ)
	endVisible := false
	for _, end := range e.info.ends {
		if key, ok := l.byStix[end]; ok && l.visible(l.elements[key].info.typ) {
			endVisible = true
		}
	}
	s.mu.Unlock()
	switch {
	case d == nil && visible:
		return []simEvent{e}
	case d == nil:
		return nil
	case visible && e.name == "delete":
		s.mu.Lock()
		d.cache.set(e.info.stixID)
		s.mu.Unlock()
		return []simEvent{e}
	case visible:
		out := append(s.dependencies(l, d, e.id, e.info), e)
		s.mu.Lock()
		d.cache.set(e.info.stixID)
		s.mu.Unlock()
		return out
	case len(e.info.ends) > 0 && d.relations && endVisible && e.name != "delete":
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(e.data, &env)
		out := s.dependencies(l, d, e.id, e.info)
		s.mu.Lock()
		r := &depRun{l: l, d: d, id: e.id}
		r.emitAs(e.name, env.Data, e.info.stixID)
		s.mu.Unlock()
		return append(out, r.out...)
	}
	return nil
}
