package opencti

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// replayInput is auto_replay_nacks (on by default) done by the input itself, as
// service.AutoRetryNacks does it: a message rejected at the output is delivered again,
// unchanged, before any new one, with a growing pause from its fourth delivery on; its
// acknowledgement (the cursor) waits for the delivery that succeeds. AutoRetryNacks does it with
// two goroutines and a context per message read, and hands on a shallow copy of each message,
// which makes the first metadata write downstream copy the metadata: per indicator, that was
// 5 % of the CPU of a backfill (issue 12). Here a message is remembered by its content,
// metadata and error, and rebuilt only if it is rejected.
type replayInput struct {
	*streamInput

	mu      sync.Mutex
	pending []*replayed
	wake    chan struct{} // a rejection wakes a Read waiting for the stream
}

// replayed is a message as it was read, and the acknowledgement of its final delivery.
type replayed struct {
	body       []byte
	meta       []metaPair
	metaInline [2]metaPair // meta's room for the input's two keys, in the same allocation
	err        error
	ack        service.AckFunc
	deliveries int
	acked      atomic.Bool // of the current delivery: Benthos acknowledges each delivery once
}

type metaPair struct {
	key   string
	value any
}

// errWoken ends a Read waiting for the stream because a rejected message is waiting.
var errWoken = errors.New("opencti_stream: a rejected message is to be delivered again")

func newReplayInput(s *streamInput) *replayInput {
	r := &replayInput{streamInput: s, wake: make(chan struct{}, 1)}
	s.wake = r.wake
	return r
}

// Read delivers a rejected message again if there is one, else the next one of the stream.
func (r *replayInput) Read(ctx context.Context) (*service.Message, service.AckFunc, error) {
	for {
		if p := r.next(); p != nil {
			return r.redeliver(ctx, p)
		}
		msg, ack, err := r.streamInput.Read(ctx)
		if errors.Is(err, errWoken) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		p := &replayed{ack: ack, deliveries: 1}
		if p.body, err = msg.AsBytes(); err != nil {
			return nil, nil, fmt.Errorf("opencti_stream: reading a message: %w", err)
		}
		p.err = msg.GetError()
		p.meta = p.metaInline[:0]
		_ = msg.MetaWalkMut(func(k string, v any) error {
			p.meta = append(p.meta, metaPair{k, v})
			return nil
		})
		return msg, r.ackOf(p), nil
	}
}

// redeliver rebuilds a rejected message, after its pause.
func (r *replayInput) redeliver(ctx context.Context, p *replayed) (*service.Message, service.AckFunc, error) {
	if p.deliveries >= 3 { // AutoRetryNacks pauses from the third re-delivery on
		t := time.NewTimer(replayPause(p.deliveries - 3))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			r.push(p, true) // not lost: first again at the next Read
			return nil, nil, ctx.Err()
		}
	}
	p.deliveries++
	p.acked.Store(false)
	msg := service.NewMessage(p.body)
	for _, m := range p.meta {
		msg.MetaSetMut(m.key, m.value)
	}
	if p.err != nil {
		msg.SetError(p.err)
	}
	return msg, r.ackOf(p), nil
}

// ackOf is the acknowledgement of one delivery of p: a rejection queues p again.
func (r *replayInput) ackOf(p *replayed) service.AckFunc {
	return func(ctx context.Context, err error) error {
		if !p.acked.CompareAndSwap(false, true) {
			return nil
		}
		if err != nil {
			r.push(p, false)
			return nil
		}
		return p.ack(ctx, nil)
	}
}

func (r *replayInput) push(p *replayed, front bool) {
	r.mu.Lock()
	if front {
		r.pending = append([]*replayed{p}, r.pending...)
	} else {
		r.pending = append(r.pending, p)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *replayInput) next() *replayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return nil
	}
	p := r.pending[0]
	r.pending[0] = nil
	r.pending = r.pending[1:]
	if len(r.pending) == 0 {
		r.pending = nil
	}
	return p
}

// replayPause is AutoRetryNacks' pause before the (n+4)th delivery: 1 ms growing by 10 % per
// delivery up to 1 s, ±50 % at random.
func replayPause(n int) time.Duration {
	d := float64(time.Millisecond)
	for range n {
		if d *= 1.1; d >= float64(time.Second) {
			d = float64(time.Second)
			break
		}
	}
	return time.Duration(d * (0.5 + rand.Float64())) //nolint:gosec // jitter, not a secret
}
