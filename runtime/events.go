package runtime

import (
	"context"
	"errors"

	apievents "github.com/containerd/containerd/api/events"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerdNamespace is the containerd namespace of the CRI plugin.
const containerdNamespace = "k8s.io"

// ContainerEvents opens the runtime's container event stream and returns a
// function that blocks until the next event. It uses the CRI event stream;
// a runtime without one (containerd 1.6) is asked for containerd's own task
// exit events on the same socket instead. When neither exists the function
// fails with ErrUnimplemented, and the caller must relist.
func (c *Client) ContainerEvents(ctx context.Context) (func() error, error) {
	s, err := c.rt.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		return nil, mapError("GetContainerEvents", err)
	}
	var fallback func() error
	return func() error {
		if fallback != nil {
			return fallback()
		}
		_, err := s.Recv()
		if err == nil {
			return nil
		}
		err = mapError("GetContainerEvents", err)
		if !errors.Is(err, ErrUnimplemented) {
			return err
		}
		recv, ferr := c.taskExitEvents(ctx)
		if ferr != nil {
			return err
		}
		c.log.Info("the CRI has no container event stream; following containerd's task exit events")
		fallback = recv
		return fallback()
	}, nil
}

// taskExitEvents subscribes to containerd's /tasks/exit events of the CRI
// namespace and returns a function that blocks until a container's main
// process exits (exec processes, such as probes, are skipped).
func (c *Client) taskExitEvents(ctx context.Context) (func() error, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", containerdNamespace)
	s, err := eventsapi.NewEventsClient(c.conn).Subscribe(ctx, &eventsapi.SubscribeRequest{
		Filters: []string{`topic=="/tasks/exit",namespace=="` + containerdNamespace + `"`},
	})
	if err != nil {
		return nil, mapError("containerd Subscribe", err)
	}
	return func() error {
		for {
			env, err := s.Recv()
			if err != nil {
				return mapError("containerd Subscribe", err)
			}
			var exit apievents.TaskExit
			if env.GetEvent() != nil && proto.Unmarshal(env.GetEvent().GetValue(), &exit) == nil && exit.ID != exit.ContainerID {
				continue // an exec process, not the container
			}
			return nil
		}
	}, nil
}
