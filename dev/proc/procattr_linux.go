package proc

import (
	"os/exec"
	"syscall"
)

// KillWithParent makes Linux kill cmd's process when the program that started it
// dies (a panic, SIGKILL, a `go test -timeout`), so no child is left holding its
// ports.
func KillWithParent(cmd *exec.Cmd) {
	// Its own process group: a Ctrl-C meant for the program does not reach it, and the
	// program stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
