package eventcore

import (
	"math/rand/v2"
	"testing"
)

// TestTableReusesLowestSlot: whatever the order slots are released in, a
// new entry takes the lowest free one, so that after a churn the live
// entries are packed at the start of the table; and a handle to a
// released slot stays refused after the slot is reused.
func TestTableReusesLowestSlot(t *testing.T) {
	var tb table[int]
	initTable(&tb, 0, 7, newOwnerCheck())
	const n = 1000
	hs := make([]handle, n)
	for i := range hs {
		hs[i], _ = tb.alloc(kindTimer)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	released := map[uint32]bool{}
	for _, i := range rng.Perm(n)[:n/2] {
		tb.release(hs[i], tb.get(hs[i], kindTimer))
		idx, _ := hs[i].index()
		released[idx] = true
	}
	for range n / 2 {
		want := uint32(n)
		for idx := range released {
			want = min(want, idx)
		}
		h, e := tb.alloc(kindTimer)
		if idx, _ := h.index(); idx != want || e == nil {
			t.Fatalf("alloc took slot %d; the lowest free is %d", idx, want)
		}
		delete(released, want)
	}
	if h, _ := tb.alloc(kindTimer); func() uint32 { i, _ := h.index(); return i }() != n {
		t.Fatal("with no slot free, alloc did not take a new one")
	}
	refused := 0
	for _, h := range hs {
		if tb.get(h, kindTimer) == nil {
			refused++
		}
	}
	if refused != n/2 {
		t.Fatalf("%d old handles refused after their slots were reused; want %d", refused, n/2)
	}
}
