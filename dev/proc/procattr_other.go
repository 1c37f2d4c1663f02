//go:build !linux

package proc

import "os/exec"

// KillWithParent is a no-op outside Linux: the programs and test cleanups stop what
// they started on exit.
func KillWithParent(cmd *exec.Cmd) {}
