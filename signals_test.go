package eventcore

import (
	"os"
	"testing"
)

// testSignalDelivery checks that every listener of sig hears it, that a
// released listener does not, and that the last release unsubscribes.
// raise sends sig to this process; when it cannot (skip non-empty), the
// test is skipped with that reason after the listeners are released.
func testSignalDelivery(t *testing.T, d *Driver, sig os.Signal, raise func() (skip string)) {
	sigs := d.Signals()
	var got1, got2 []os.Signal
	id1, err := sigs.Listen(sig, func(_ SignalID, st SignalStatus, s os.Signal) {
		if st != SignalStatusOK {
			t.Errorf("status %v", st)
		}
		got1 = append(got1, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := sigs.Listen(sig, func(_ SignalID, _ SignalStatus, s os.Signal) { got2 = append(got2, s) })
	if d.Core().WaiterCount() != 2 {
		t.Fatalf("WaiterCount = %d, want 2", d.Core().WaiterCount())
	}
	if why := raise(); why != "" {
		sigs.ReleaseRef(id1)
		sigs.ReleaseRef(id2)
		t.Skip(why)
	}
	runUntil(t, d, sig.String(), func() bool { return len(got1) > 0 && len(got2) > 0 })
	if got1[0] != sig || got2[0] != sig {
		t.Fatalf("callbacks got %v and %v", got1, got2)
	}
	if sigs.ReleaseRef(id2) {
		t.Fatal("ReleaseRef of the last reference reported the listener alive")
	}
	n1 := len(got1)
	if why := raise(); why != "" {
		t.Fatal(why)
	}
	runUntil(t, d, "second "+sig.String(), func() bool { return len(got1) > n1 })
	if len(got2) != 1 {
		t.Fatal("released listener was called")
	}
	sigs.ReleaseRef(id1)
	if d.Core().WaiterCount() != 0 {
		t.Fatal("released listeners still counted")
	}
	sigState.Lock()
	_, subscribed := sigState.subs[sig]
	sigState.Unlock()
	if subscribed {
		t.Fatal("signal still subscribed after its last listener was released")
	}
}
