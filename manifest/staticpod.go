package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// StaticPod is one decoded, defaulted and validated manifest with its identity.
type StaticPod struct {
	// File is the manifest's path.
	File string
	// Pod is the decoded and defaulted Pod; Spec.NodeName is the node.
	Pod *corev1.Pod
	// Name is the pod name in the runtime: metadata.name + "-" + node.
	Name string
	// Namespace is metadata.namespace, "default" when empty.
	Namespace string
	// UID is metadata.uid when set, else Hash.
	UID string
	// Hash is the spec hash: 32 hex characters that change with any semantic
	// change of the Pod and with nothing else.
	Hash string
}

// Key is "namespace/name", unique per pod on the node.
func (p *StaticPod) Key() string { return p.Namespace + "/" + p.Name }

// Load decodes, defaults and validates data read from file, for node. Its
// error is a *FileError that lists every problem found.
func Load(file string, data []byte, node string) (*StaticPod, error) {
	pod, root, err := decode(data)
	if err != nil {
		return nil, fileError(file, err, root)
	}
	SetDefaults(pod)
	if err := Validate(pod, node); err != nil {
		return nil, fileError(file, err, root)
	}
	hash, err := Hash(pod, node)
	if err != nil {
		return nil, fileError(file, err, root)
	}
	uid := string(pod.UID)
	if uid == "" {
		uid = hash
	}
	pod.Spec.NodeName = node
	return &StaticPod{
		File:      file,
		Pod:       pod,
		Name:      PodName(pod.Name, node),
		Namespace: pod.Namespace,
		UID:       uid,
		Hash:      hash,
	}, nil
}

// PodName is the runtime name of a static pod: the kubelet's
// "<name>-<lowercase node name>".
func PodName(name, node string) string {
	return name + "-" + strings.ToLower(node)
}

// Hash is the spec hash of a defaulted pod on node: the first 16 bytes of the
// SHA-256 of its canonical JSON and the node name, in hex. Canonical JSON has
// the struct's field order and sorted map keys, so whitespace, comments, key
// order and explicit defaults do not change it.
func Hash(pod *corev1.Pod, node string) (string, error) {
	b, err := json.Marshal(pod)
	if err != nil {
		return "", fmt.Errorf("hash pod %s: %w", pod.Name, err)
	}
	h := sha256.New()
	h.Write(b)
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(node)))
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}
