//go:build tools

// Package tools keeps etcd and etcdctl in go.mod; it is never built.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
