//go:build !linux

package storetest

import "os/exec"

// dieWithParent does nothing where the kernel cannot kill a child with its
// parent: a test binary killed by its timeout leaves its servers running.
func dieWithParent(*exec.Cmd) {}
