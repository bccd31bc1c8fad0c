package sync

import (
	"strings"
	"testing"
)

func TestImagesArrivedRetriesAPodWaitingForItsImageAtOnce(t *testing.T) {
	y := strings.Replace(podYAML("never", "Always", "x", "main"), "image: busybox:1.36", "image: missing:1\n    imagePullPolicy: Never", 1)
	h := newHarness(t, load(t, "/m/never.yaml", y))
	h.sync() // the image is missing; the first retry is at once
	h.sync() // and it is missing again: now the retry waits 10s
	h.rt.mu.Lock()
	h.rt.images["missing:1"] = true
	h.rt.mu.Unlock()
	h.sync()
	if _, ok := h.rt.running()["never-node1/main"]; ok {
		t.Fatal("the pod started before the end of its back-off without ImagesArrived: the test proves nothing")
	}
	h.loop.ImagesArrived()
	h.sync()
	h.mustRun("never-node1/main")
}
