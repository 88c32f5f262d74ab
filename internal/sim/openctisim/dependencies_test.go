package openctisim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// depFixture publishes an author, an indicator it created, an observable and the based-on
// relationship between them, at 100..400 ms.
func depFixture(s *Server, stream string) {
	s.PublishWithID(stream, "100-0", "create", []byte(`{"data":{"id":"identity--a","type":"identity","modified":"1970-01-01T00:00:00.100Z"}}`))
	s.PublishWithID(stream, "200-0", "create", []byte(`{"data":{"id":"indicator--i","type":"indicator","created_by_ref":"identity--a","object_marking_refs":["marking-definition--unknown"],"modified":"1970-01-01T00:00:00.200Z"}}`))
	s.PublishWithID(stream, "300-0", "create", []byte(`{"data":{"id":"domain-name--o","type":"domain-name","modified":"1970-01-01T00:00:00.300Z"}}`))
	s.PublishWithID(stream, "400-0", "create", []byte(`{"data":{"id":"relationship--r","type":"relationship","relationship_type":"based-on","source_ref":"indicator--i","target_ref":"domain-name--o","modified":"1970-01-01T00:00:00.400Z"}}`))
}

// summary is "<id> <event> <stix id> <referer>" per data event.
func summary(evs []sseEvent) []string {
	var out []string
	for _, e := range evs {
		if e.event == "connected" || e.event == "heartbeat" {
			continue
		}
		var env struct {
			Data   struct{ ID string } `json:"data"`
			Origin struct{ Referer string }
		}
		_ = json.Unmarshal([]byte(e.data), &env)
		out = append(out, fmt.Sprintf("%s %s %s %s", e.id, e.event, env.Data.ID, env.Origin.Referer))
	}
	return out
}

func expectEvents(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A snapshot of a stream filtered on indicators: with no-dependencies false the server sends,
// before the indicator, its author (a missing ref) and its based-on relationship with the
// relationship's own missing refs (the indicator itself, then the observable), all as
// dependencies with the indicator's event id; the indicator's own turn is then skipped (sent).
func TestSnapshotDependencies(t *testing.T) {
	s, u := startStreamSim(t)
	s.SetStreamFaults(StreamFaults{HeartbeatPeriod: time.Hour})
	depFixture(s, "f")
	s.SetStreamFilter("f", "indicator")
	url := u + "/stream/f?recover=1970-01-01T00:00:00.500Z"

	// Lenient: the elements only.
	s.SetDependencyResolution(false)
	_, evs := readEvents(t, url, http.Header{"Last-Event-Id": {"0-0"}, "No-Dependencies": {"false"}}, 2)
	expectEvents(t, summary(evs), "200-0 create indicator--i init")

	s.SetDependencyResolution(true)
	_, evs = readEvents(t, url, http.Header{"Last-Event-Id": {"0-0"}, "No-Dependencies": {"false"}}, 5)
	expectEvents(t, summary(evs),
		"200-0 create identity--a dependencies",
		"200-0 create indicator--i dependencies",
		"200-0 create domain-name--o dependencies",
		"200-0 create relationship--r dependencies")

	_, evs = readEvents(t, url, http.Header{"Last-Event-Id": {"0-0"}, "No-Dependencies": {"true"}}, 3)
	expectEvents(t, summary(evs),
		"200-0 create identity--a dependencies",
		"200-0 create indicator--i init")

	// Unfiltered: the observable and the relationship are snapshot elements of their own, already
	// sent as dependencies of the indicator: nothing is sent twice.
	s.SetStreamFilter("f")
	_, evs = readEvents(t, url, http.Header{"Last-Event-Id": {"0-0"}, "No-Dependencies": {"false"}}, 5)
	expectEvents(t, summary(evs),
		"100-0 create identity--a init",
		"200-0 create indicator--i dependencies",
		"200-0 create domain-name--o dependencies",
		"200-0 create relationship--r dependencies")
}

// Live: on a stream filtered on indicators, a based-on relationship created later is not
// visible, but with no-dependencies false it is sent as a dependency of its visible source,
// after its missing refs (the source's author first: refs resolve recursively); with
// no-dependencies true it is not sent at all.
func TestLiveRelationshipDependency(t *testing.T) {
	s, u := startStreamSim(t)
	s.SetStreamFaults(StreamFaults{HeartbeatPeriod: time.Hour}) // dependency resolution is on by default
	s.SetStreamFilter("f", "indicator")
	depFixture(s, "f")
	s.PublishWithID("f", "500-0", "create", []byte(`{"data":{"id":"indicator--j","type":"indicator","modified":"1970-01-01T00:00:00.500Z"}}`))

	_, evs := readEvents(t, u+"/stream/f", http.Header{"Last-Event-Id": {"250-0"}, "No-Dependencies": {"false"}}, 6)
	expectEvents(t, summary(evs),
		"400-0 create identity--a dependencies",
		"400-0 create indicator--i dependencies",
		"400-0 create domain-name--o dependencies",
		"400-0 create relationship--r dependencies",
		"500-0 create indicator--j ")

	_, evs = readEvents(t, u+"/stream/f", http.Header{"Last-Event-Id": {"250-0"}, "No-Dependencies": {"true"}}, 2)
	expectEvents(t, summary(evs), "500-0 create indicator--j ")
}

func TestDepCacheIsLRU(t *testing.T) {
	c := newDepCache(2)
	c.set("a")
	c.set("b")
	c.set("a") // refreshes a
	c.set("c") // evicts b
	if !c.has("a") || c.has("b") || !c.has("c") {
		t.Fatalf("a=%v b=%v c=%v", c.has("a"), c.has("b"), c.has("c"))
	}
}

func TestParseObjInfo(t *testing.T) {
	info := parseObjInfo(json.RawMessage(`{"id":"sighting--s","type":"sighting","sighting_of_ref":"indicator--i",
 "where_sighted_refs":["identity--h"],"created_by_ref":"identity--a","object_marking_refs":["m1"],"name":"x_ref"}`))
	if info.stixID != "sighting--s" || info.typ != "sighting" ||
		strings.Join(info.refs, ",") != "identity--a,m1,indicator--i,identity--h" ||
		strings.Join(info.ends, ",") != "indicator--i,identity--h" {
		t.Fatalf("%+v", info)
	}
}
