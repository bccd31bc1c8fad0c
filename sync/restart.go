package sync

// recordRestart counts a restart of container key (podUID/name) in its
// CrashLoopBackOff, so the next restart waits longer.
func (l *Loop) recordRestart(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.backoff.next(key)
}
