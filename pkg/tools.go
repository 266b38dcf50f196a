//go:build tools

// Package tools pins the code generators `make generate` runs through `go run`.
package tools

import (
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
