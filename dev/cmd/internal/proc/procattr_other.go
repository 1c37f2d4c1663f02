//go:build !linux

package proc

import "os/exec"

// killWithParent is a no-op outside Linux: the programs stop the service on exit.
func killWithParent(cmd *exec.Cmd) {}
