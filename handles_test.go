package eventcore

import (
	"testing"
	"time"
	"unsafe"
)

// Two live loops whose tables begin at the same generation: a timer in
// each, in the same slot under the same generation, differs only in the
// loop's tag, and each loop refuses the other's.
func TestHandlesNameTheirLoop(t *testing.T) {
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			a, b := newTestDriver(t, name), newTestDriver(t, name)
			if !a.l.ownTag || !b.l.ownTag || a.l.tag == b.l.tag {
				t.Fatalf("two live loops with tags %d (own %v) and %d (own %v)", a.l.tag, a.l.ownTag, b.l.tag, b.l.ownTag)
			}
			b.l.timers.salt = a.l.timers.salt
			ta, tb := a.Timers().Create(), b.Timers().Create()
			ia, _ := ta.h.index()
			ib, _ := tb.h.index()
			if ia != ib || ta.h.gen()&genCountMask != tb.h.gen()&genCountMask || ta.h.gen() == tb.h.gen() {
				t.Fatalf("handles %v and %v: want the same slot and generation under two tags", ta, tb)
			}
			for _, c := range []struct {
				d  *Driver
				id TimerID
			}{{a, tb}, {b, ta}} {
				if c.d.Timers().Set(c.id, time.Hour, 0) || c.d.Timers().IsUnique(c.id) || c.d.LastError(c.id) != ErrInvalidHandle {
					t.Errorf("a loop took the other's timer %v", c.id)
				}
			}
			if !a.Timers().IsUnique(ta) || !b.Timers().IsUnique(tb) || a.Timers().IsPending(ta) || b.Timers().IsPending(tb) {
				t.Fatal("a foreign handle touched a live timer")
			}
			a.Timers().ReleaseRef(ta)
			b.Timers().ReleaseRef(tb)
		})
	}
}

// Tags are handed out while any is free, each to one loop only, the one
// given back last taken last; when none is free a loop shares one. Dispose
// gives a driver's tag back.
func TestLoopTags(t *testing.T) {
	var mine []uint8
	seen := map[uint8]bool{}
	for {
		tag, own := takeLoopTag()
		if !own {
			break
		}
		if seen[tag] || len(mine) == 1<<loopTagBits {
			t.Fatalf("tag %d handed out twice", tag)
		}
		seen[tag] = true
		mine = append(mine, tag)
	}
	if len(mine) == 0 {
		t.Fatal("no tag free")
	}
	giveLoopTag(mine[0])
	giveLoopTag(mine[1%len(mine)])
	if tag, own := takeLoopTag(); !own || tag != mine[0] && len(mine) > 1 {
		t.Fatalf("took tag %d (own %v) after giving back %d, then %d", tag, own, mine[0], mine[1%len(mine)])
	}
	for _, tag := range mine {
		giveLoopTag(tag)
	}

	d := newTestDriver(t, testDrivers(t)[0])
	tag := d.l.tag
	d.Dispose()
	loopTags.mu.Lock()
	used := loopTags.used[tag]
	loopTags.mu.Unlock()
	if used {
		t.Fatalf("tag %d still taken after Dispose", tag)
	}
}

// A slot's generation counts round within its bits, and its handles keep
// the loop's tag; the handle of the slot's last generation is refused once
// the slot is reused.
func TestGenerationWrapsUnderItsTag(t *testing.T) {
	const tag = 0xa5
	var tb table[int]
	initTable(&tb, tag, genCountMask, newOwnerCheck())
	old, e := tb.alloc(kindTimer)
	if old.gen() != tag<<genCountBits|genCountMask {
		t.Fatalf("first generation %#x; want %#x", old.gen(), tag<<genCountBits|genCountMask)
	}
	tb.release(old, e)
	h, _ := tb.alloc(kindTimer)
	if h.gen() != tag<<genCountBits {
		t.Fatalf("generation after %#x is %#x; want %#x", old.gen(), h.gen(), tag<<genCountBits)
	}
	if tb.get(old, kindTimer) != nil || tb.get(h, kindTimer) == nil {
		t.Fatal("after the wrap, the old handle is taken or the new one refused")
	}
}

// An entry is 16 bytes and what it holds: a timer's fills a cache line.
func TestEntrySizes(t *testing.T) {
	if s := unsafe.Sizeof(header{}); s != 16 {
		t.Errorf("header: %d bytes; want 16", s)
	}
	if s := unsafe.Sizeof(entry[timerObj]{}); s != 64 {
		t.Errorf("a timer's entry: %d bytes; want 64", s)
	}
}
