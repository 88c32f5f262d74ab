package hlsim

import "net/http"

// Endpoints beyond the ones the pipelines call, which the `check` command uses:
//
//	GET /api/version/                       {"version": ...} (HarfangLab's XSOAR integration tests a
//	                                        connection with it and checks only that key)
//	DELETE /api/data/threat_intelligence/{IOC,Sigma,Yara}Source/{id}/
//	                                        removes a list; what a real console does with the
//	                                        entries still in it is unknown: here they go with it

// Version is the HarfangLab version the simulator claims.
const Version = "4.9.2-sim"

func (s *Server) registerMeta() {
	s.mux.HandleFunc("GET /api/version/{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"version": Version})
	})
	for _, kind := range []string{kindIOCSource, kindSigmaSource, kindYaraSource} {
		s.mux.HandleFunc("DELETE "+intelBase+kind+"/{id}/{$}", s.counted(s.deleteSource(kind)))
	}
}

func (s *Server) deleteSource(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.intel
		list := st.sources[kind]
		for i, src := range list {
			if src.ID != id {
				continue
			}
			st.sources[kind] = append(list[:i:i], list[i+1:]...)
			st.dropEntriesOf(kind, id)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		notFound(w)
	}
}

// dropEntriesOf removes the entries of a deleted list. Callers hold s.mu.
func (st *intelStore) dropEntriesOf(kind, sourceID string) {
	if kind == kindIOCSource {
		for _, r := range st.sortedIOCs(func(r *IOCRule) bool { return r.SourceID == sourceID }) {
			st.dropIOC(r)
		}
		return
	}
	m := st.rules(kind)
	for id, r := range m {
		if r.SourceID == sourceID {
			delete(m, id)
		}
	}
}
