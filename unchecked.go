//go:build !eventcore_checked

package eventcore

// Without the tag eventcore_checked, the checked mode's checks of the
// owner goroutine (checked.go) compile to nothing.

// checkedMode tells whether the checks are compiled in.
const checkedMode = false

// scribbleLoan: only the checked mode scribbles on returned loans.
func scribbleLoan([]byte) {}

type ownerCheck struct{}

func newOwnerCheck() ownerCheck { return ownerCheck{} }

func (ownerCheck) run()       {}
func (ownerCheck) left()      {}
func (ownerCheck) dispose()   {}
func (ownerCheck) check(kind) {}
