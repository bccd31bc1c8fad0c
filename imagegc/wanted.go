package imagegc

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// ManifestImages is the images the pods of the snapshots name, in their
// init and regular containers, each once.
func ManifestImages(snaps ...manifest.Snapshot) []string {
	seen := map[string]bool{}
	var out []string
	for _, snap := range snaps {
		for _, sp := range snap.Pods {
			if sp == nil || sp.Pod == nil {
				continue
			}
			// Two loops, not an append: the pods are shared and read-only.
			for _, list := range [][]corev1.Container{sp.Pod.Spec.InitContainers, sp.Pod.Spec.Containers} {
				for _, c := range list {
					if c.Image != "" && !seen[c.Image] {
						seen[c.Image] = true
						out = append(out, c.Image)
					}
				}
			}
		}
	}
	return out
}
