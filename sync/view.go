package sync

import "time"

// History returns the loop's event history.
func (l *Loop) History() *History { return l.cfg.History }

// event records e, at the clock's time unless e has one.
func (l *Loop) event(e Event) {
	if e.Time.IsZero() {
		e.Time = l.clk.Now()
	}
	l.cfg.History.Add(e)
}

// Pods returns the status of every pod as of the last sync, by key.
func (l *Loop) Pods() []PodStatus {
	l.mu.Lock()
	v := l.view
	l.mu.Unlock()
	return append([]PodStatus(nil), v.pods...)
}

// Manifests returns the manifest files that do not load and the directory
// entries that are not read, sorted by file.
func (l *Loop) Manifests() []ManifestStatus {
	l.mu.Lock()
	v := l.view
	l.mu.Unlock()
	return append([]ManifestStatus(nil), v.manifests...)
}

// Ready reports whether the first sync is done and the runtime answers.
func (l *Loop) Ready() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced && !l.rtDown
}

// Alive reports whether the loop tried a sync within d: it keeps trying
// every second while the runtime is down.
func (l *Loop) Alive(d time.Duration) bool {
	l.mu.Lock()
	last := l.lastAttempt
	l.mu.Unlock()
	return !last.IsZero() && l.clk.Since(last) <= d
}

// Synced reports whether one full sync has been done.
func (l *Loop) Synced() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced
}

// runtimeDown records that the runtime does not answer, once.
func (l *Loop) runtimeDown(err error) {
	l.mu.Lock()
	was := l.rtDown
	l.rtDown = true
	l.mu.Unlock()
	if !was {
		l.log.Error("container runtime unavailable; pods are left as they are", "err", err)
		l.event(Event{Type: EventRuntimeUnavailable, Message: err.Error()})
	}
}

// runtimeUp records that the runtime answers again, once.
func (l *Loop) runtimeUp() {
	l.mu.Lock()
	was := l.rtDown
	l.rtDown = false
	l.mu.Unlock()
	if was {
		l.log.Info("container runtime available again")
		l.event(Event{Type: EventRuntimeAvailable})
	}
}
