// Package faults lets the fault tests kill crun-lite with SIGKILL at a
// named point of a command (test/integration/killphase_test.go): with
// _CRUNLITE_TEST_DIE_AT=PHASE in its environment, a crun-lite reaching
// At(PHASE) kills itself there, as a crash, an OOM kill or a power cut
// would stop it. Nothing else is done with the variable: whoever can set a
// process's environment can kill it anyway.
//
// The phases, where they are and what a kill there leaves behind:
//
//	pull:layer-committed  store/transfer: a layer is in the store, the image not yet
//	pull:image-written    store/transfer: the image is written, not yet returned
//	run:prepared          run: run dir made, image locks held, nothing mounted
//	run:cloned            run: the child exists, before its first batch is checked
//	run:rootfs            run: root filesystem mounted, before user and exec
//	run:running           run: the command runs (exec done), before the wait
//	rm:container          the container is about to leave the store
//	rmi:image             an image is about to leave the store
package faults

import (
	"os"
	"syscall"
)

// EnvDieAt names the phase to die at.
const EnvDieAt = "_CRUNLITE_TEST_DIE_AT"

var dieAt = os.Getenv(EnvDieAt)

// At kills this process with SIGKILL when the tests asked for phase.
func At(phase string) {
	if dieAt != "" && dieAt == phase {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
