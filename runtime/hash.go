package runtime

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ContainerHash is the kubelet's HashContainer of c (pkg/kubelet/container,
// v1.31 and later): FNV-32a over the text that the kubelet's DeepHashObject
// prints for the JSON of c's name and image, "([]uint8)[" then the JSON's
// bytes in decimal separated by spaces then "]". It is written as the
// io.kubernetes.container.hash annotation, in hexadecimal as the kubelet
// writes it, so that tools read the same value as under a kubelet. It is no
// input of bosun's spec hash and bosun never compares it: replacing a
// container is decided by the pod's spec hash alone.
func ContainerHash(c *corev1.Container) uint64 {
	// Marshalling a map of two strings cannot fail.
	b, _ := json.Marshal(map[string]string{"name": c.Name, "image": c.Image})
	var sb strings.Builder
	sb.Grow(len("([]uint8)[]") + 4*len(b))
	sb.WriteString("([]uint8)[")
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.Itoa(int(x)))
	}
	sb.WriteByte(']')
	h := fnv.New32a()
	h.Write([]byte(sb.String()))
	return uint64(h.Sum32())
}
