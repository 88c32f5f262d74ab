package harfanglab

import (
	"context"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// expiryLoop removes, with no event, what indicators whose valid_until has passed still hold.
func (o *intelOutput) expiryLoop() {
	defer o.shut.TriggerHasStopped()
	ctx, cancel := o.shut.HardStopCtx(context.Background())
	defer cancel()
	t := time.NewTicker(o.expiryInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			o.expireDue(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// expireDue applies "not live" to every owner past its valid_until that still holds something.
func (o *intelOutput) expireDue(ctx context.Context) {
	o.connMu.Lock()
	ix := o.idx
	o.connMu.Unlock()
	if ix == nil {
		return
	}
	now := o.now()
	for _, s := range ix.ownerList() {
		if ctx.Err() != nil {
			return
		}
		if !s.mu.TryLock() { // busy with a change: look again at the next tick
			continue
		}
		due := s.validUntil != nil && !now.Before(*s.validUntil) && s.holdsAnything()
		s.mu.Unlock()
		if !due || !s.expiring.CompareAndSwap(false, true) {
			continue
		}
		go func() {
			defer s.expiring.Store(false)
			c := &intel.Change{Owner: s.id.String(), Via: intel.ViaPattern, Live: false}
			if err := o.apply(ctx, ix, s, c, true); err != nil {
				if IsAuthFailure(err) {
					_ = o.onAuthFailure(err) // retried at the next tick
					return
				}
				if ctx.Err() == nil {
					o.log.Errorf("removing expired indicator %s: %v", s.id, err)
				}
				return
			}
			o.m.expired.Incr(1)
			o.log.Debugf("indicator %s expired: its entries were removed", s.id)
		}()
	}
}
