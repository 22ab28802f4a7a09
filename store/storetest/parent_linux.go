package storetest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd's process when this process
// ends, so a test binary killed by its timeout leaves no server behind.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
