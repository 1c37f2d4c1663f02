package proc

import (
	"os/exec"
	"syscall"
)

// killWithParent makes Linux kill the service when the program that started it dies
// (a panic or SIGKILL), so no service is left holding its port.
func killWithParent(cmd *exec.Cmd) {
	// Its own process group: a Ctrl-C meant for the program does not reach it, and the
	// program stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
