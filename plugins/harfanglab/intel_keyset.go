package harfanglab

// keySet is the set of values one claim holds. Most claims hold one to a few values, where a
// Go map costs hundreds of bytes each (the index keeps one per indicator); a slice serves small
// sets, and a map takes over past keySetMapAt so IN lists of thousands of values stay cheap.
type keySet struct {
	small []iocKey
	big   map[iocKey]struct{}
}

const keySetMapAt = 16

func (s *keySet) len() int {
	if s.big != nil {
		return len(s.big)
	}
	return len(s.small)
}

func (s *keySet) has(k iocKey) bool {
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

func (s *keySet) add(k iocKey) {
	k.typ = internType(k.typ) // the set outlives the decoded change the key came from
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

func (s *keySet) remove(k iocKey) {
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

// each calls fn for every key (in no particular order).
func (s *keySet) each(fn func(iocKey)) {
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
