package sync

import "errors"

// ImagesArrived tells the loop that images were just imported (by
// --image-preload-dir): every pod whose last sync failed for want of an
// image is retried at once, not at the end of its back-off, and the loop is
// woken. A pod whose image is still missing fails again and keeps backing
// off as before.
func (l *Loop) ImagesArrived() {
	l.mu.Lock()
	now := l.clk.Now()
	for key, pe := range l.podErr {
		var ie *imageError
		if errors.As(pe.err, &ie) && pe.retry.After(now) {
			pe.retry = now
			l.podErr[key] = pe
		}
	}
	l.mu.Unlock()
	l.Wake()
}
