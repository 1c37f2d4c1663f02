//go:build !linux

package kratostest

import "os/exec"

// killWithParent is a no-op outside Linux: Stop (run by t.Cleanup) ends Kratos.
func killWithParent(cmd *exec.Cmd) {}
