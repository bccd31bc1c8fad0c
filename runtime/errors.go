package runtime

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors for the gRPC codes bosun acts on; test with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrUnavailable   = errors.New("runtime unavailable")
	ErrTimeout       = errors.New("deadline exceeded")
	ErrUnimplemented = errors.New("not implemented by the runtime")
	ErrAlreadyExists = errors.New("already exists")
)

// mapError turns a gRPC error of the CRI call method into one wrapping a
// sentinel where one fits; other errors keep the runtime's message.
func mapError(method string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", method, err)
	}
	var sentinel error
	switch st.Code() {
	case codes.NotFound:
		sentinel = ErrNotFound
	case codes.Unavailable:
		sentinel = ErrUnavailable
	case codes.DeadlineExceeded:
		sentinel = ErrTimeout
	case codes.Unimplemented:
		sentinel = ErrUnimplemented
	case codes.AlreadyExists:
		sentinel = ErrAlreadyExists
	default:
		return fmt.Errorf("%s: %s", method, st.Message())
	}
	return fmt.Errorf("%s: %w: %s", method, sentinel, st.Message())
}
