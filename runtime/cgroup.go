package runtime

import (
	"context"
	"errors"
	"fmt"
)

// The cgroup drivers.
const (
	CgroupDriverCgroupfs = "cgroupfs"
	CgroupDriverSystemd  = "systemd"
)

// CgroupDriverChoice is the cgroup driver bosun uses and why.
type CgroupDriverChoice struct {
	Driver string
	// From says where it comes from: "runtime", "flag or config" or "default".
	From string
	// Overruled is the driver given by flag or config that the runtime's
	// answer replaced ("" when none or when they agree).
	Overruled string
}

// ChooseCgroupDriver picks the cgroup driver as the kubelet does: the
// runtime's answer to RuntimeConfig (the kubelet has done so since its
// KubeletCgroupDriverFromCRI gate, GA and locked on in v1.34), else the
// configured one (flag or config; "" when neither is given), else cgroupfs.
// A configured driver never overrules the runtime's, which would make every
// container fail; Overruled says it was given. An error other than
// ErrUnimplemented from the runtime is returned.
func ChooseCgroupDriver(ctx context.Context, ask func(context.Context) (string, error), configured string) (CgroupDriverChoice, error) {
	driver, err := ask(ctx)
	switch {
	case err != nil && !errors.Is(err, ErrUnimplemented):
		return CgroupDriverChoice{}, fmt.Errorf("cgroup driver: %w", err)
	case err == nil && driver != "":
		c := CgroupDriverChoice{Driver: driver, From: "runtime"}
		if configured != "" && configured != driver {
			c.Overruled = configured
		}
		return c, nil
	case configured != "":
		return CgroupDriverChoice{Driver: configured, From: "flag or config"}, nil
	}
	return CgroupDriverChoice{Driver: CgroupDriverCgroupfs, From: "default"}, nil
}
