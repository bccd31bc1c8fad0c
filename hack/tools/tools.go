//go:build tools

// Package tools pins bosun's development tools: the code generators of
// proto/ (make generate) and golangci-lint (make lint).
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
