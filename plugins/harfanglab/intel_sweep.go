package harfanglab

// The sweep: after a complete OpenCTI snapshot (first run, re-snapshot after a trimmed resume,
// reset from OpenCTI) the lists must hold exactly what the snapshot says is live. The
// opencti_stream input brackets such a snapshot with snapshot_start / snapshot_end markers
// (passed on by stix_to_harfanglab); between them this output records every owner a change
// names, and at the end every other owner that still holds something is removed as if its
// indicator had been deleted: values it alone owned are deleted or disabled
// (remove_indicator), shared values only lose it. Writes are those of the removed claims.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

const (
	hioFieldSweepMaxShare   = "sweep_max_share"
	hioFieldSweepAllowLarge = "sweep_allow_large"
)

func sweepFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewFloatField(hioFieldSweepMaxShare).
			Description("Safety valve of the sweep that follows a complete snapshot (`snapshot_markers` of `opencti_stream`): a sweep that would remove or disable more than this share of the enabled entries this writer holds does nothing and fails with an error naming `" + hioFieldSweepAllowLarge + "`, so a mistyped stream filter cannot wipe the EDR's intel.").
			Default(0.5),
		service.NewBoolField(hioFieldSweepAllowLarge).
			Description("Let a sweep remove more than `" + hioFieldSweepMaxShare + "` of the entries (set it, then take the snapshot again, when that many indicators really are gone).").
			Default(false),
	}
}

// sweeper records the owners named during a snapshot: each owner named gets the snapshot's
// mark (ownerState.snapshotMark), and the sweep removes the owners without it.
type sweeper struct {
	maxShare   float64
	allowLarge bool
	active     atomic.Bool // a snapshot is being recorded: changed under mu, read without it by see

	mu   sync.Mutex
	gen  string
	mark uint8 // of the snapshot being recorded; 1..255, never 0 (the mark of no snapshot)

	sweeps *service.MetricCounter // by result: done, refused, skipped
	swept  *service.MetricCounter // entries that lost a swept owner
}

func newSweeper(conf *service.ParsedConfig, met *service.Metrics) (*sweeper, error) {
	w := &sweeper{
		sweeps: met.NewCounter("harfanglab_intel_sweeps_total", "result"),
		swept:  met.NewCounter("harfanglab_intel_swept_entries_total"),
	}
	var err error
	if w.maxShare, err = conf.FieldFloat(hioFieldSweepMaxShare); err != nil {
		return nil, err
	}
	if w.maxShare <= 0 || w.maxShare > 1 {
		return nil, fmt.Errorf("field %s must be in (0, 1], not %v", hioFieldSweepMaxShare, w.maxShare)
	}
	if w.allowLarge, err = conf.FieldBool(hioFieldSweepAllowLarge); err != nil {
		return nil, err
	}
	return w, nil
}

// see records s, the owner of change c (and the older keys of the same indicator), while a
// snapshot is recorded.
func (w *sweeper) see(ix *index, s *ownerState, c *intel.Change) {
	if !w.active.Load() {
		return
	}
	var aliases []*ownerState
	ix.mu.Lock()
	for _, id := range c.StixIDs {
		if a := ix.owners.get(ownerIDOf(id)); a != nil {
			aliases = append(aliases, a)
		}
	}
	ix.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.active.Load() { // the end marker came meanwhile
		return
	}
	for _, o := range append(aliases, s) {
		o.mu.Lock()
		o.snapshotMark = w.mark
		o.mu.Unlock()
	}
}

// nextMark numbers a new snapshot. After 255 snapshots the numbers come round again: the
// marks are cleared first, so that an owner last named 255 snapshots ago does not look named.
func (w *sweeper) nextMark(ix *index) uint8 {
	w.mark++
	if w.mark == 0 {
		for _, s := range ix.ownerList() {
			s.mu.Lock()
			s.snapshotMark = 0
			s.mu.Unlock()
		}
		w.mark = 1
	}
	return w.mark
}

// control handles a snapshot marker.
func (o *intelOutput) control(ctx context.Context, ix *index, c *intel.Change) error {
	w := o.sweeper
	w.mu.Lock()
	if c.Control == intel.ControlSnapshotStart {
		w.gen = c.Generation
		w.nextMark(ix)
		w.active.Store(true)
		w.mu.Unlock()
		o.log.Infof("snapshot %s (%s) starts: recording the indicators it lists", c.Generation, c.Reason)
		return nil
	}
	gen, recording, mark := w.gen, w.active.Load(), w.mark
	w.gen = ""
	w.active.Store(false)
	w.mu.Unlock()
	if gen != c.Generation || !recording {
		w.sweeps.Incr(1, "skipped")
		o.log.Warnf("end of snapshot %s, whose start this writer did not see (restarted during it): nothing swept", c.Generation)
		return nil
	}
	return o.sweep(ctx, ix, c, mark)
}

// sweep removes what owners absent from the snapshot hold, unless that is more than the
// safety valve allows.
func (o *intelOutput) sweep(ctx context.Context, ix *index, c *intel.Change, mark uint8) error {
	start := o.now()
	var stale []*ownerState
	staleIDs := map[ownerID]struct{}{}
	for _, s := range ix.ownerList() {
		s.mu.Lock()
		holds := s.snapshotMark != mark && s.holdsAnything()
		s.mu.Unlock()
		if holds {
			stale = append(stale, s)
			staleIDs[s.id] = struct{}{}
		}
	}
	removed, enabled := ix.sweepImpact(staleIDs, stale)
	if removed > 0 && float64(removed) > o.sweeper.maxShare*float64(enabled) && !o.sweeper.allowLarge {
		o.sweeper.sweeps.Incr(1, "refused")
		err := fmt.Errorf("sweep after snapshot %s (%s) refused: it would remove %d of the %d enabled entries (more than %s %v) of %d indicators absent from the snapshot; nothing was removed. If the stream filter is right, set %s (HARFANGLAB_SWEEP_ALLOW_LARGE=true) and take the snapshot again (reset the connector)",
			c.Generation, c.Reason, removed, enabled, hioFieldSweepMaxShare, o.sweeper.maxShare, len(stale), hioFieldSweepAllowLarge)
		o.log.Errorf("%v", err)
		return &permanentError{err}
	}
	var lost, failed atomic.Int64
	for _, s := range stale {
		lost.Add(int64(s.heldEntries()))
	}
	// Values first, each once with all its stale owners gone: a value shared by several
	// absent indicators is written once, not once per indicator.
	parallel(o.maxInFlight, o.entriesOf(ix), func(e *iocEntry) {
		if err := o.sweepEntry(ctx, ix, e, staleIDs); err != nil {
			failed.Add(1)
			o.log.Errorf("sweep: %s: %v", e.key(), err)
		}
	})
	// Then each owner's bookkeeping and its Sigma/YARA entries (its values are done).
	parallel(o.maxInFlight, stale, func(s *ownerState) {
		dead := &intel.Change{Owner: s.id.String(), Via: intel.ViaPattern, Live: false}
		if err := o.apply(ctx, ix, s, dead, true); err != nil {
			failed.Add(1)
			o.log.Errorf("sweep: removing indicator %s: %v", s.id, err)
		}
	})
	o.sweeper.sweeps.Incr(1, "done")
	o.sweeper.swept.Incr(lost.Load())
	o.log.Infof("sweep after snapshot %s (%s): %d indicators absent from the snapshot lost their claims on %d entries (%d entries removed or disabled, the others keep their other owners; %d failed), in %v",
		c.Generation, c.Reason, len(stale), lost.Load(), removed, failed.Load(), o.now().Sub(start).Round(time.Millisecond))
	if n := failed.Load(); n > 0 {
		return &permanentError{fmt.Errorf("sweep after snapshot %s: %d indicators could not be removed", c.Generation, n)}
	}
	return nil
}

// parallel runs fn on every item, max_in_flight at a time.
func parallel[T any](n int, items []T, fn func(T)) {
	slots := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			fn(it)
		}()
	}
	wg.Wait()
}

// entriesOf lists the IOC entries of the index.
func (o *intelOutput) entriesOf(ix *index) []*iocEntry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.entries.all()
}

// sweepEntry removes every stale owner of one value in a single write (none when it has none).
func (o *intelOutput) sweepEntry(ctx context.Context, ix *index, e *iocEntry, staleIDs map[ownerID]struct{}) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range 4 {
		if e.foreign {
			return nil
		}
		next := e.owners.without(func(id ownerID) bool {
			_, ok := staleIDs[id]
			return ok
		})
		if len(next) == len(e.owners) {
			return nil
		}
		err := o.writeIOC(ctx, ix, e, next)
		if !errors.Is(err, errReread) {
			return err
		}
		if err := o.reread(ctx, ix, e); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s keeps changing in HarfangLab", e.key())
}

// heldEntries counts the IOC values and rules an owner holds.
func (s *ownerState) heldEntries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.heldValues()
	for _, r := range s.rules() {
		if r.id != "" && r.enabled {
			n++
		}
	}
	return n
}

// sweepImpact counts the enabled entries of this writer and those that would lose every
// owner if the stale owners went.
func (ix *index) sweepImpact(staleIDs map[ownerID]struct{}, stale []*ownerState) (removed, enabled int) {
	ix.mu.Lock()
	entries, owners := ix.entries.all(), ix.owners.all()
	ix.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		if e.id != "" && e.enabled && !e.foreign && len(e.owners) > 0 {
			enabled++
			all := true
			for _, c := range e.owners {
				if _, ok := staleIDs[c.id]; !ok {
					all = false
					break
				}
			}
			if all {
				removed++
			}
		}
		e.mu.Unlock()
	}
	isStale := make(map[*ownerState]bool, len(stale))
	for _, s := range stale {
		isStale[s] = true
	}
	for _, s := range owners {
		s.mu.Lock()
		for _, r := range s.rules() {
			if r.id != "" && r.enabled {
				enabled++
				if isStale[s] {
					removed++
				}
			}
		}
		s.mu.Unlock()
	}
	return removed, enabled
}
