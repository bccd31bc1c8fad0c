package rollout

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-sh/bosun/manifest"
)

// stateFile is the name of the state file below the root dir.
const stateFile = "rollout.json"

// stateVersion is the format of the state file.
const stateVersion = 1

// store keeps the records of every pod in one file below a directory that
// only bosun's user may write, opened through an os.Root so that no name
// leads out of it.
type store struct {
	root *os.Root
	path string
}

// storedState is the state file's content.
type storedState struct {
	Version int                  `json:"version"`
	Pods    map[string]storedPod `json:"pods"`
}

// storedPod is one pod's record; the progress window is not kept (after a
// restart it starts at the running sandbox's creation).
type storedPod struct {
	LastReady *storedVersion `json:"lastReady,omitempty"`
	Hash      string         `json:"hash"`
	Phase     Phase          `json:"phase"`
	Reason    Reason         `json:"reason,omitempty"`
	Message   string         `json:"message,omitempty"`
	Since     time.Time      `json:"since,omitzero"`
}

// storedVersion is a manifest.StaticPod as the manifest package built it;
// Hash is kept as it was computed, never recomputed.
type storedVersion struct {
	File      string      `json:"file"`
	Name      string      `json:"name"`
	Namespace string      `json:"namespace"`
	UID       string      `json:"uid"`
	Hash      string      `json:"hash"`
	Pod       *corev1.Pod `json:"pod"`
}

// openStore opens dir, which must be a directory owned by bosun's user that
// group and others cannot write.
func openStore(dir string) (*store, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("rollout state: %w", err)
	}
	if err := privateDir(root); err != nil {
		root.Close()
		return nil, fmt.Errorf("rollout state %s: %w", dir, err)
	}
	return &store{root: root, path: filepath.Join(dir, stateFile)}, nil
}

// privateDir checks the opened directory itself (not a name that could be
// swapped): owned by bosun's user, not writable by group or others.
func privateDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return errors.New("no owner information")
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("owned by uid %d, not %d (bosun's user)", st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("mode %v lets group or others write there", fi.Mode().Perm())
	}
	return nil
}

func (s *store) Close() error { return s.root.Close() }

// load reads the records; a missing file is none.
func (s *store) load() (map[string]record, error) {
	f, err := s.root.OpenFile(stateFile, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollout state %s: %w", s.path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("rollout state %s: %w", s.path, err)
	}
	var st storedState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("rollout state %s: %w", s.path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("rollout state %s: version %d, want %d", s.path, st.Version, stateVersion)
	}
	out := make(map[string]record, len(st.Pods))
	for key, p := range st.Pods {
		rec := record{hash: p.Hash, phase: p.Phase, reason: p.Reason, message: p.Message, since: p.Since}
		if v := p.LastReady; v != nil && v.Pod != nil {
			rec.lastReady = &manifest.StaticPod{File: v.File, Pod: v.Pod, Name: v.Name, Namespace: v.Namespace, UID: v.UID, Hash: v.Hash}
		}
		if rec.phase == PhaseRolledBack && rec.lastReady == nil {
			rec.phase = PhaseProgressing // nothing to hold: try the file again
		}
		out[key] = rec
	}
	return out, nil
}

// encode is the state file's content for recs.
func encode(recs map[string]*record) ([]byte, error) {
	st := storedState{Version: stateVersion, Pods: make(map[string]storedPod, len(recs))}
	for key, r := range recs {
		p := storedPod{Hash: r.hash, Phase: r.phase, Reason: r.reason, Message: r.message, Since: r.since}
		if v := r.lastReady; v != nil {
			p.LastReady = &storedVersion{File: v.File, Name: v.Name, Namespace: v.Namespace, UID: v.UID, Hash: v.Hash, Pod: v.Pod}
		}
		st.Pods[key] = p
	}
	return json.Marshal(st)
}

// save replaces the state file atomically: a new file (0600) written and
// synced, renamed over the old one, then the directory synced.
func (s *store) save(b []byte) (retErr error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + stateFile + "." + hex.EncodeToString(rnd[:])
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("rollout state %s: %w", s.path, err)
	}
	defer func() {
		if retErr != nil {
			_ = s.root.Remove(tmp)
		}
	}()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.root.Rename(tmp, stateFile)
	}
	if err == nil {
		err = s.syncDir()
	}
	if err != nil {
		return fmt.Errorf("rollout state %s: %w", s.path, err)
	}
	return nil
}

func (s *store) syncDir() error {
	d, err := s.root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
