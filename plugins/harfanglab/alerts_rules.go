package harfanglab

import (
	lrulist "container/list"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rule types of the output message (`rule_type`).
const (
	ruleIOC   = "ioc"
	ruleSigma = "sigma"
	ruleYara  = "yara"
)

// Rule lookups are cached: alerts of one rule come in bursts, and a rule changes rarely.
const (
	ruleCacheSize   = 10000
	ruleFoundTTL    = 10 * time.Minute
	ruleNotFoundTTL = time.Minute
	// lookupPageSize bounds one lookup answer; exact filters return one or a few rules.
	lookupPageSize = 20
)

// ruleMatch is what an alert's rule lookup found.
type ruleMatch struct {
	rule         json.RawMessage // nil: no rule found
	indicatorIDs []string
}

// alertFields are the fields of an alert the input reads: which rule fired, and its status.
type alertFields struct {
	Status   string `json:"status"`
	Type     string `json:"alert_type"`
	RuleName string `json:"rule_name"`
	Msg      string `json:"msg"`
	Process  struct {
		MatchedRules []struct {
			Namespace string `json:"namespace"`
			RuleName  string `json:"rulename"`
		} `json:"matched_rules"`
	} `json:"process"`
}

// ruleResolver finds the threat-intelligence rule behind an alert (reference §1.6, with the
// fixes of §7): IOC alerts by the value in `msg`, Sigma alerts by rule name, YARA alerts by
// file name or matched rule name. Safe for concurrent use.
type ruleResolver struct {
	client     *Client
	sourceName string
	cache      *ttlLRU
	now        func() time.Time

	// inflight makes concurrent lookups of one key share a single request.
	inflightMu sync.Mutex
	inflight   map[string]*lookupCall
}

type lookupCall struct {
	done chan struct{}
	v    any
	err  error
}

func newRuleResolver(c *Client, sourceName string) *ruleResolver {
	return &ruleResolver{client: c, sourceName: sourceName, cache: newTTLLRU(ruleCacheSize), now: time.Now, inflight: map[string]*lookupCall{}}
}

// resolve returns the rule type of the alert ("" for types without rules) and what the lookup
// found. An error means the lookup could not be made (HarfangLab unreachable after retries).
func (r *ruleResolver) resolve(ctx context.Context, a alertFields) (string, ruleMatch, bool, error) {
	switch strings.ToLower(a.Type) {
	case ruleIOC:
		typ, value, ok := parseIOCMessage(a.Msg)
		if !ok {
			return ruleIOC, ruleMatch{}, false, nil
		}
		m, hit, err := r.cached(ctx, "ioc|"+value, func(ctx context.Context) (ruleMatch, error) {
			return r.lookupIOC(ctx, typ, value)
		})
		return ruleIOC, m, hit, err
	case ruleSigma:
		if a.RuleName == "" {
			return ruleSigma, ruleMatch{}, false, nil
		}
		m, hit, err := r.cached(ctx, "sigma|"+a.RuleName, func(ctx context.Context) (ruleMatch, error) {
			return r.lookupSigma(ctx, a.RuleName)
		})
		return ruleSigma, m, hit, err
	case ruleYara:
		tokens := yaraTokens(a)
		if len(tokens) == 0 {
			return ruleYara, ruleMatch{}, false, nil
		}
		m, hit, err := r.cached(ctx, "yara|"+strings.Join(tokens, "|"), func(ctx context.Context) (ruleMatch, error) {
			return r.lookupYara(ctx, tokens)
		})
		return ruleYara, m, hit, err
	}
	return "", ruleMatch{}, false, nil
}

// cached answers a rule lookup from the cache or runs it (see shared).
func (r *ruleResolver) cached(ctx context.Context, key string, lookup func(context.Context) (ruleMatch, error)) (ruleMatch, bool, error) {
	return shared(ctx, r, key, func(ctx context.Context) (ruleMatch, bool, error) {
		m, err := lookup(ctx)
		return m, m.rule != nil, err
	})
}

// shared answers key from the cache or runs lookup, once for all concurrent callers of the key.
// Found values are cached for ruleFoundTTL, absent ones for ruleNotFoundTTL, errors not at all.
// hit tells whether no request was made for this caller.
func shared[T any](ctx context.Context, r *ruleResolver, key string, lookup func(context.Context) (T, bool, error)) (v T, hit bool, err error) {
	if cv, ok := r.cache.get(key, r.now()); ok {
		return cv.(T), true, nil
	}
	r.inflightMu.Lock()
	if c, ok := r.inflight[key]; ok {
		r.inflightMu.Unlock()
		select {
		case <-c.done:
			if c.err != nil {
				return v, true, c.err
			}
			return c.v.(T), true, nil
		case <-ctx.Done():
			return v, false, ctx.Err()
		}
	}
	c := &lookupCall{done: make(chan struct{})}
	r.inflight[key] = c
	r.inflightMu.Unlock()

	v, found, err := lookup(ctx)
	c.v, c.err = v, err
	if err == nil {
		ttl := ruleFoundTTL
		if !found {
			ttl = ruleNotFoundTTL
		}
		r.cache.put(key, v, r.now().Add(ttl))
	}
	r.inflightMu.Lock()
	delete(r.inflight, key)
	r.inflightMu.Unlock()
	close(c.done)
	return v, false, err
}

// parseIOCMessage reads `<ioc type>=<value>` (also `<type> = <value>` and `<type>: <value>`)
// from an IOC alert's msg. Only the first separator splits: URLs contain both `=` and `:`.
func parseIOCMessage(msg string) (typ, value string, ok bool) {
	msg = strings.TrimSpace(msg)
	i := strings.IndexAny(msg, "=:")
	if i <= 0 {
		return "", "", false
	}
	typ, value = strings.TrimSpace(msg[:i]), strings.TrimSpace(msg[i+1:])
	if value == "" || !iocTypeLike.MatchString(typ) {
		return "", "", false
	}
	return typ, value, true
}

// iocTypeLike is what may stand before the separator of an IOC message: a short type name.
var iocTypeLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_ -]{0,31}$`)

// yaraTokens are the names a YARA alert gives for what fired: the part of rule_name after `:`
// (`Yara detection: mimikatz`, a file name), then the matched rules (rule names, and their
// namespace file names without extension).
func yaraTokens(a alertFields) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if _, after, ok := strings.Cut(a.RuleName, ":"); ok {
		add(after)
	}
	for _, m := range a.Process.MatchedRules {
		add(m.RuleName)
		ns := m.Namespace
		if i := strings.LastIndex(ns, "."); i > 0 {
			ns = ns[:i]
		}
		add(ns)
	}
	if len(out) > 4 {
		out = out[:4]
	}
	return out
}

// intelRule is the part of a rule object the resolver reads.
type intelRule struct {
	raw         json.RawMessage
	SourceID    string   `json:"source_id"`
	Type        string   `json:"type"`
	Value       string   `json:"value"`
	Name        string   `json:"name"`
	RuleName    string   `json:"rule_name"`
	RuleNames   []string `json:"rule_names"`
	Comment     string   `json:"comment"`
	Description string   `json:"description"`
}

func (r *ruleResolver) list(ctx context.Context, path string, q url.Values) ([]intelRule, error) {
	q.Set("limit", strconv.Itoa(lookupPageSize))
	var page struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := r.client.Get(ctx, path, q, &page); err != nil {
		return nil, err
	}
	out := make([]intelRule, 0, len(page.Results))
	for _, raw := range page.Results {
		var ir intelRule
		if json.Unmarshal(raw, &ir) != nil {
			continue
		}
		ir.raw = raw
		out = append(out, ir)
	}
	return out, nil
}

// sourceID is the id of the connector's own list of a kind ("" when it does not exist). Cached
// like rules: it almost never changes.
func (r *ruleResolver) sourceID(ctx context.Context, path string) (string, error) {
	id, _, err := shared(ctx, r, "source|"+path, func(ctx context.Context) (string, bool, error) {
		var page struct {
			Results []struct {
				ID   any    `json:"id"`
				Name string `json:"name"`
			} `json:"results"`
		}
		q := url.Values{"name__exact": {r.sourceName}, "limit": {strconv.Itoa(lookupPageSize)}}
		if err := r.client.Get(ctx, path, q, &page); err != nil {
			return "", false, err
		}
		for _, s := range page.Results {
			if s.Name == r.sourceName && s.ID != nil {
				return fmt.Sprint(s.ID), true, nil
			}
		}
		return "", false, nil
	})
	return id, err
}

// pick prefers a rule of the connector's own list; only such a rule's comment is trusted to
// hold OpenCTI indicator ids.
func (r *ruleResolver) pick(ctx context.Context, sourcePath string, candidates []intelRule) (ruleMatch, error) {
	if len(candidates) == 0 {
		return ruleMatch{}, nil
	}
	own, err := r.sourceID(ctx, sourcePath)
	if err != nil {
		return ruleMatch{}, err
	}
	for _, c := range candidates {
		if own != "" && c.SourceID == own {
			return ruleMatch{rule: c.raw, indicatorIDs: indicatorIDs(c)}, nil
		}
	}
	return ruleMatch{rule: candidates[0].raw}, nil
}

func (r *ruleResolver) lookupIOC(ctx context.Context, typ, value string) (ruleMatch, error) {
	values := []string{value}
	if low := strings.ToLower(value); low != value {
		values = append(values, low) // the intel output lower-cases hashes and domain names
	}
	for _, v := range values {
		rules, err := r.list(ctx, PathIOCRule, url.Values{"value__exact": {v}})
		if err != nil {
			return ruleMatch{}, err
		}
		var exact []intelRule
		for _, c := range rules {
			if c.Value == v {
				exact = append(exact, c)
			}
		}
		// Prefer the rule of the type named in the alert when several lists hold the value.
		for i, c := range exact {
			if c.Type == typ && i > 0 {
				exact[0], exact[i] = exact[i], exact[0]
				break
			}
		}
		if len(exact) > 0 {
			return r.pick(ctx, PathIOCSource, exact)
		}
	}
	return ruleMatch{}, nil
}

func (r *ruleResolver) lookupSigma(ctx context.Context, name string) (ruleMatch, error) {
	for _, field := range []string{"rule_name__exact", "name__exact"} {
		rules, err := r.list(ctx, PathSigmaRule, url.Values{field: {name}})
		if err != nil {
			return ruleMatch{}, err
		}
		var exact []intelRule
		for _, c := range rules {
			if c.RuleName == name || c.Name == name {
				exact = append(exact, c)
			}
		}
		if len(exact) > 0 {
			return r.pick(ctx, PathSigmaSource, exact)
		}
	}
	return ruleMatch{}, nil
}

func (r *ruleResolver) lookupYara(ctx context.Context, tokens []string) (ruleMatch, error) {
	for _, tok := range tokens {
		rules, err := r.list(ctx, PathYaraFile, url.Values{"name__exact": {tok}})
		if err != nil {
			return ruleMatch{}, err
		}
		var exact []intelRule
		for _, c := range rules {
			if c.Name == tok {
				exact = append(exact, c)
			}
		}
		if len(exact) > 0 {
			return r.pick(ctx, PathYaraSource, exact)
		}
	}
	// No file of that name: a token may be a rule inside a file.
	for _, tok := range tokens {
		rules, err := r.list(ctx, PathYaraFile, url.Values{"search": {tok}})
		if err != nil {
			return ruleMatch{}, err
		}
		var exact []intelRule
		for _, c := range rules {
			for _, rn := range c.RuleNames {
				if rn == tok {
					exact = append(exact, c)
					break
				}
			}
		}
		if len(exact) > 0 {
			return r.pick(ctx, PathYaraSource, exact)
		}
	}
	return ruleMatch{}, nil
}

// indicatorIDs reads the OpenCTI indicator ids the intel output records on a rule, with the
// readers the intel output itself uses: an IOC's comment (parseComment), the name of a Sigma
// rule or YARA file (parseRuleName: consoles keep no description for those), and a JSON
// description, where the older connectors wrote them.
func indicatorIDs(c intelRule) []string {
	for _, text := range []string{c.Comment, c.Description} {
		if o, ours := parseComment(text); ours && len(o) > 0 {
			return o.sortedIDs()
		}
	}
	for _, name := range []string{c.Name, c.RuleName} {
		if owner, _ := parseRuleName(name); owner != "" {
			return []string{owner}
		}
	}
	return nil
}

// ttlLRU is a small bounded cache with per-entry expiry.
type ttlLRU struct {
	mu    sync.Mutex
	max   int
	order *lrulist.List // front = most recently used
	items map[string]*lrulist.Element
}

type ttlEntry struct {
	key     string
	value   any
	expires time.Time
}

func newTTLLRU(maxEntries int) *ttlLRU {
	return &ttlLRU{max: maxEntries, order: lrulist.New(), items: map[string]*lrulist.Element{}}
}

func (c *ttlLRU) get(key string, now time.Time) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*ttlEntry)
	if now.After(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e.value, true
}

func (c *ttlLRU) put(key string, value any, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = &ttlEntry{key: key, value: value, expires: expires}
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&ttlEntry{key: key, value: value, expires: expires})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*ttlEntry).key)
	}
}

func (c *ttlLRU) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
