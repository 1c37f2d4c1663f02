package kratostest

import (
	"os/exec"
	"syscall"
)

// killWithParent makes Linux kill Kratos when the test process dies (a panic, a
// `go test -timeout` or a Ctrl-C), so no Kratos is left holding ports.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
