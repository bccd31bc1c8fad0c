// Package runtime is bosun's adapter to a CRI v1 container runtime: it dials
// the runtime's socket, checks its version and status, gives every call its
// own deadline, logs and counts every call, and maps gRPC codes to the
// sentinel errors of this package (ErrNotFound, ErrUnavailable, ...), which
// is the only place where gRPC codes are looked at.
//
// It also owns the pure translation of a static pod into CRI configs
// (SandboxConfig, ContainerConfig) and the labels and annotations that carry
// a pod's identity in the runtime, with the few facts of the host that
// translation needs (DetectCgroupMemory, SELinuxEnabled, ResolvConf, read by
// the caller and handed in through Node). It must not decide anything: when
// to create, restart or remove is the sync package's job.
package runtime
