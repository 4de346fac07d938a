package main

import (
	"encoding/json"

	"fmt"
	"io"
	"time"

	"github.com/kexecrec/kexecrec/alert"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/replay"
)

// syslogLocal is what a bare --syslog means: the local syslog socket.
const syslogLocal = "local"

// alertWait bounds how long a stopping recorder waits for alerts in flight.
const alertWait = 10 * time.Second

// recordAlerts is record --on-call/--syslog: calls decoded as they
// complete (by the decoder the reading commands use, fed with the records
// written to the file) and handed to an alert.Dispatcher.
type recordAlerts struct {
	d      *alert.Dispatcher
	dec    *replay.Decoder
	hdr    format.Header
	errOut io.Writer
	failed bool
}

// setUpAlerts checks the alert flags before anything is attached.
func (o *recordOptions) setUpAlerts(errOut io.Writer) (*recordAlerts, error) {
	var sinks []alert.Sink
	if o.OnCall != "" {
		sinks = append(sinks, &alert.OnCall{Command: o.OnCall})
	}
	if o.Syslog != "" {
		addr := o.Syslog
		if addr == syslogLocal {
			addr = ""
		}
		if err := alert.ParseSyslogAddr(addr); err != nil {
			return nil, fmt.Errorf("--syslog: %v", err)
		}
		sinks = append(sinks, &alert.Syslog{Addr: addr})
	}
	if len(sinks) == 0 {
		return nil, nil
	}
	a := &recordAlerts{errOut: errOut}
	a.d = alert.NewDispatcher(alert.Options{Log: a.log}, sinks...)
	return a, nil
}

func (a *recordAlerts) log(line string) {
	backgroundLogMu.Lock()
	defer backgroundLogMu.Unlock()
	fmt.Fprintf(a.errOut, "kexecrec: alert: %s\n", line)
}

func (a *recordAlerts) hook(cfg *recorder.Config) {
	prevPart, prevRecord := cfg.OnPart, cfg.OnRecord
	cfg.OnPart = func(h format.Header, name string) {
		if a.dec == nil { // parts never split a call: one decoder serves the set
			a.dec, a.hdr = replay.NewDecoder(h), h
		}
		if prevPart != nil {
			prevPart(h, name)
		}
	}
	cfg.OnRecord = func(r format.Record) {
		if prevRecord != nil {
			prevRecord(r)
		}
		a.record(r)
	}
}

func (a *recordAlerts) record(r format.Record) {
	if a.dec == nil || a.failed {
		return
	}
	calls, err := a.dec.Add(r)
	if err != nil {
		a.failed = true
		a.log(fmt.Sprintf("decoding stopped: %v (still recording; no more alerts)", err))
		return
	}
	for _, c := range calls {
		j, err := json.Marshal(c)
		if err != nil {
			a.log(fmt.Sprintf("call %d: %v", c.ID, err))
			continue
		}
		a.d.Notify(alert.Event{Call: c, JSON: append(j, '\n'), Header: a.hdr})
	}
}

// finish waits (bounded) for the alerts in flight.
func (a *recordAlerts) finish() { a.d.Close(alertWait) }
