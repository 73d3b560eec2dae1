//go:build tools

// Package tools keeps kwok and kwokctl in go.mod; it is never built.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
