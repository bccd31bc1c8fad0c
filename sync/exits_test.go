package sync

import (
	"context"
	"testing"
)

// A ContainerStatus call that hangs stalls neither the loop nor the other
// pods: the pod with the exit waits (its status as before), and is planned
// once the call returns.
func TestHungContainerStatusStallsOnlyItsPod(t *testing.T) {
	done := load(t, "/m/done.yaml", podYAML("done", "Never", "true", "main"))
	other := load(t, "/m/other.yaml", podYAML("other", "Always", "sleep", "main"))
	h := newHarness(t, done)
	h.sync()
	h.sync() // the status shows the container running
	h.rt.exit(h.mustRun("done-node1/main").Id, 0)
	hold := make(chan struct{})
	h.rt.mu.Lock()
	h.rt.hold = hold
	h.rt.mu.Unlock()
	h.setPods(done, other)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	synced := make(chan struct{})
	go func() {
		h.loop.SyncOnce(ctx)
		close(synced)
	}()
	eventually(t, func() bool {
		h.tick(exitWait)
		select {
		case <-synced:
			return true
		default:
			return false
		}
	})
	h.loop.Wait()
	h.mustRun("other-node1/main")
	if st := h.status("default/done-node1"); st.Phase != "Running" {
		t.Errorf("status of the pod whose exit is not known yet: %s, want the last one (Running)", st.Phase)
	}

	select {
	case <-h.loop.wake: // the wake-up of the other pod's start
	default:
	}
	close(hold)
	eventually(t, func() bool {
		select {
		case <-h.loop.wake: // the late call woke the loop
			return true
		default:
			return false
		}
	})
	h.sync()
	if st := h.status("default/done-node1"); st.Phase != "Succeeded" {
		t.Errorf("status after the call returned: %s, want Succeeded", st.Phase)
	}
}
