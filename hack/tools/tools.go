//go:build tools

// Package tools pins the code generators of bosun's proto/ (make generate).
package tools

import (
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
