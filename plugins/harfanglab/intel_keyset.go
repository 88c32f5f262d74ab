package harfanglab

// keySet is the set of values one claim holds. Most claims hold one value: it is kept inline
// (no allocation at all; the claim stays in the 80-byte class). The others go to a keySetRest.
type keySet struct {
	one  iocKey // a member unless zero
	rest *keySetRest
}

func (s *keySet) len() int {
	n := s.rest.len()
	if s.one != (iocKey{}) {
		n++
	}
	return n
}

func (s *keySet) has(k iocKey) bool {
	return k != (iocKey{}) && s.one == k || s.rest.has(k)
}

func (s *keySet) add(k iocKey) {
	k.typ = internType(k.typ) // the set outlives the decoded change the key came from
	switch {
	case s.has(k):
	case s.one == (iocKey{}) && k != (iocKey{}):
		s.one = k
	default:
		if s.rest == nil {
			s.rest = &keySetRest{}
		}
		s.rest.add(k)
	}
}

func (s *keySet) remove(k iocKey) {
	if k != (iocKey{}) && s.one == k {
		s.one = iocKey{}
		return
	}
	if s.rest != nil {
		s.rest.remove(k)
		if s.rest.len() == 0 {
			s.rest = nil
		}
	}
}

// each calls fn for every key (in no particular order).
func (s *keySet) each(fn func(iocKey)) {
	if s.one != (iocKey{}) {
		fn(s.one)
	}
	s.rest.each(fn)
}

// keySetRest holds the values of a claim beyond its first. Where a Go map costs hundreds of
// bytes each, a slice serves small sets, and a map takes over past keySetMapAt so IN lists of
// thousands of values stay cheap.
type keySetRest struct {
	small []iocKey
	big   map[iocKey]struct{}
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

func (s *keySetRest) has(k iocKey) bool {
	if s == nil {
		return false
	}
	if s.big != nil {
		_, ok := s.big[k]
		return ok
	}
	for _, x := range s.small {
		if x == k {
			return true
		}
	}
	return false
}

func (s *keySetRest) add(k iocKey) {
	switch {
	case s.big != nil:
		s.big[k] = struct{}{}
	case s.has(k):
	case len(s.small) < keySetMapAt:
		s.small = append(s.small, k)
	default:
		s.big = make(map[iocKey]struct{}, 2*keySetMapAt)
		for _, x := range s.small {
			s.big[x] = struct{}{}
		}
		s.big[k] = struct{}{}
		s.small = nil
	}
}

func (s *keySetRest) remove(k iocKey) {
	if s.big != nil {
		delete(s.big, k)
		return
	}
	for i, x := range s.small {
		if x == k {
			last := len(s.small) - 1
			s.small[i] = s.small[last]
			s.small = s.small[:last]
			return
		}
	}
}

func (s *keySetRest) each(fn func(iocKey)) {
	if s == nil {
		return
	}
	if s.big != nil {
		for k := range s.big {
			fn(k)
		}
		return
	}
	for _, k := range s.small {
		fn(k)
	}
}
