// Package podfs owns a pod's files on the host: the pod directory below
// --root-dir/pods, its volumes (emptyDir, tmpfs, hostPath, downwardAPI,
// subPath), the managed /etc/hosts and the termination message files.
//
// It is the one place where the path-safety rules live. bosun runs as root
// and a container can write its emptyDir, its subPath targets and, through
// them, parts of the pod directory: every path built from manifest content
// goes through Join or Component, everything below the pod directory is
// opened below an os.Root, and no file is written, chmodded or read through
// a name a container controls. podfs never talks to the container runtime;
// it returns the mounts the runtime is handed.
package podfs
