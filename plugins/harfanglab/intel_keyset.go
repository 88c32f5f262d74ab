package harfanglab

// keySet is the set of values one claim holds, as the index entries of those values (an entry
// stays in the index for its lifetime, so it names its value; a pointer is 8 bytes where the
// key would be 32). Most claims hold one value: it is kept inline, with no allocation. The
// others go to a keySetRest.
type keySet struct {
	one  *iocEntry // a member unless nil
	rest *keySetRest
}

func (s *keySet) len() int {
	n := s.rest.len()
	if s.one != nil {
		n++
	}
	return n
}

func (s *keySet) has(e *iocEntry) bool {
	return e != nil && s.one == e || s.rest.has(e)
}

func (s *keySet) add(e *iocEntry) {
	switch {
	case s.has(e):
	case s.one == nil && e != nil:
		s.one = e
	default:
		if s.rest == nil {
			s.rest = &keySetRest{}
		}
		s.rest.add(e)
	}
}

func (s *keySet) remove(e *iocEntry) {
	if e != nil && s.one == e {
		s.one = nil
		return
	}
	if s.rest != nil {
		s.rest.remove(e)
		if s.rest.len() == 0 {
			s.rest = nil
		}
	}
}

// each calls fn for every entry (in no particular order).
func (s *keySet) each(fn func(*iocEntry)) {
	if s.one != nil {
		fn(s.one)
	}
	s.rest.each(fn)
}

// keySetRest holds the values of a claim beyond its first. Where a Go map costs hundreds of
// bytes each, a slice serves small sets, and a map takes over past keySetMapAt so IN lists of
// thousands of values stay cheap.
type keySetRest struct {
	small []*iocEntry
	big   map[*iocEntry]struct{}
}

const keySetMapAt = 16

func (s *keySetRest) len() int {
	if s == nil {
		return 0
	}
	if s.big != nil {
		return len(s.big)
	}
	return len(s.small)
}

func (s *keySetRest) has(e *iocEntry) bool {
	if s == nil {
		return false
	}
	if s.big != nil {
		_, ok := s.big[e]
		return ok
	}
	for _, x := range s.small {
		if x == e {
			return true
		}
	}
	return false
}

func (s *keySetRest) add(e *iocEntry) {
	switch {
	case s.big != nil:
		s.big[e] = struct{}{}
	case s.has(e):
	case len(s.small) < keySetMapAt:
		s.small = append(s.small, e)
	default:
		s.big = make(map[*iocEntry]struct{}, 2*keySetMapAt)
		for _, x := range s.small {
			s.big[x] = struct{}{}
		}
		s.big[e] = struct{}{}
		s.small = nil
	}
}

func (s *keySetRest) remove(e *iocEntry) {
	if s.big != nil {
		delete(s.big, e)
		return
	}
	for i, x := range s.small {
		if x == e {
			last := len(s.small) - 1
			s.small[i] = s.small[last]
			s.small = s.small[:last]
			return
		}
	}
}

func (s *keySetRest) each(fn func(*iocEntry)) {
	if s == nil {
		return
	}
	if s.big != nil {
		for e := range s.big {
			fn(e)
		}
		return
	}
	for _, e := range s.small {
		fn(e)
	}
}
