package eventcore

import "testing"

func TestPanicKeepsExitWaiters(t *testing.T) {
	forEachDriver(t, testPanicKeepsExitWaiters)
}
