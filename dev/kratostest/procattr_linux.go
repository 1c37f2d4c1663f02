package kratostest

import (
	"os/exec"
	"syscall"
)

// killWithParent makes Linux kill Kratos when the test process dies (a panic, a
// `go test -timeout` or a Ctrl-C), so no Kratos is left holding ports.
func killWithParent(cmd *exec.Cmd) {
	// Its own process group: a Ctrl-C meant for the program does not reach it, and the
	// program stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
