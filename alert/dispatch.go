package alert

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Sink delivers one alert. It must give up when ctx is done.
type Sink interface {
	Name() string
	Send(ctx context.Context, e Event) error
}

// Options bound a Dispatcher's work.
type Options struct {
	Workers int           // alerts delivered at once per sink (default 4)
	Timeout time.Duration // per alert (default 30 s)
	Queue   int           // alerts waiting per sink before new ones are dropped (default 1024)
	Log     func(string)  // one line per failure
}

// Dispatcher delivers every event to every sink, each sink with its own
// queue and workers, so a hanging command does not delay syslog.
type Dispatcher struct {
	opts  Options
	lanes []*lane
}

type lane struct {
	sink    Sink
	q       chan Event
	wg      sync.WaitGroup
	dropped atomic.Uint64
	failed  atomic.Uint64
	sent    atomic.Uint64
}

// NewDispatcher starts the workers.
func NewDispatcher(o Options, sinks ...Sink) *Dispatcher {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Queue <= 0 {
		o.Queue = 1024
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	d := &Dispatcher{opts: o}
	for _, s := range sinks {
		l := &lane{sink: s, q: make(chan Event, o.Queue)}
		for range o.Workers {
			l.wg.Add(1)
			go d.work(l)
		}
		d.lanes = append(d.lanes, l)
	}
	return d
}

func (d *Dispatcher) work(l *lane) {
	defer l.wg.Done()
	for e := range l.q {
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
		err := l.sink.Send(ctx, e)
		cancel()
		if err != nil {
			l.failed.Add(1)
			d.opts.Log(fmt.Sprintf("%s for call %d failed: %v", l.sink.Name(), e.Call.ID, err))
			continue
		}
		l.sent.Add(1)
	}
}

// Notify queues e for every sink and returns at once.
func (d *Dispatcher) Notify(e Event) {
	for _, l := range d.lanes {
		select {
		case l.q <- e:
		default:
			if l.dropped.Add(1) == 1 {
				d.opts.Log(fmt.Sprintf("%s: %d alerts waiting, dropping new ones (the capture has every call)", l.sink.Name(), cap(l.q)))
			}
		}
	}
}

// Close delivers what is queued, waiting at most wait, and says what was
// dropped or failed.
func (d *Dispatcher) Close(wait time.Duration) {
	done := make(chan struct{})
	go func() {
		for _, l := range d.lanes {
			close(l.q)
			l.wg.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		d.opts.Log(fmt.Sprintf("alerts still running after %s at exit: not waiting for them", wait))
	}
	for _, l := range d.lanes {
		if n, f := l.dropped.Load(), l.failed.Load(); n > 0 || f > 0 {
			d.opts.Log(fmt.Sprintf("%s: %d alert(s) failed, %d dropped", l.sink.Name(), f, n))
		}
	}
}

// Stats is what each sink did: sent, failed, dropped.
func (d *Dispatcher) Stats() map[string][3]uint64 {
	m := map[string][3]uint64{}
	for _, l := range d.lanes {
		m[l.sink.Name()] = [3]uint64{l.sent.Load(), l.failed.Load(), l.dropped.Load()}
	}
	return m
}
