package eventcore

// The handle table: every driver keeps its objects in tables of fixed-size
// chunks, so an entry never moves while a callback holds a pointer to it, and
// a released slot is reused (no allocation in steady state) under a new
// generation, so the old handle is refused. Every loop-only method passes
// through a table lookup, which is where the checked mode (checked.go)
// checks the calling goroutine.

const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
)

// header is what every entry has, whatever it holds. It is 16 bytes, so
// that an entry whose object is 48 bytes (a timer's) fills one cache line;
// what few entries use lives apart, in cold.
type header struct {
	gen  uint32 // kind<<genCountBits | generation; kindNone when released
	refs int32
	cold *coldHeader // nil until first used; kept, emptied, through reuse
}

// coldHeader is the part of an entry that few use.
type coldHeader struct {
	user any   // UserData
	err  error // LastError
}

func (h *header) kind() kind { return kind(h.gen >> genCountBits) }

// setErr records err for LastError.
func (h *header) setErr(err error) {
	if err != nil || h.cold != nil {
		h.coldPart().err = err
	}
}

// lastErr is what setErr recorded last.
func (h *header) lastErr() error {
	if h.cold == nil {
		return nil
	}
	return h.cold.err
}

func (h *header) coldPart() *coldHeader {
	if h.cold == nil {
		h.cold = new(coldHeader)
	}
	return h.cold
}

type entry[T any] struct {
	header
	v T
}

type table[T any] struct {
	chunks []*[chunkSize]entry[T]
	n      uint32   // slots ever handed out
	free   []uint32 // released slots: a min-heap, see takeFree
	tag    uint8    // the loop's tag (loopTags)
	salt   uint32   // first generation of every slot: random
	live   int
	own    ownerCheck // the checked mode's owner check (checked.go)
}

func initTable[T any](t *table[T], tag uint8, salt uint32, own ownerCheck) {
	t.tag, t.salt, t.own = tag, salt&genCountMask, own
}

// alloc takes a slot for a new object of kind k with one reference.
// It returns nil when the table is full.
func (t *table[T]) alloc(k kind) (handle, *entry[T]) {
	t.own.check(k)
	var idx uint32
	var e *entry[T]
	if len(t.free) > 0 {
		idx = t.takeFree()
		e = t.at(idx)
	} else {
		if t.n >= maxSlots {
			return 0, nil
		}
		idx = t.n
		t.n++
		if int(idx>>chunkBits) >= len(t.chunks) {
			t.chunks = append(t.chunks, new([chunkSize]entry[T]))
		}
		e = t.at(idx)
		e.gen = t.salt
	}
	e.gen = uint32(k)<<genCountBits | e.gen&genCountMask
	e.refs = 1
	t.live++
	return t.handle(idx, e), e
}

// handle is the handle of e, the entry in slot idx.
func (t *table[T]) handle(idx uint32, e *entry[T]) handle {
	return makeHandle(e.kind(), idx, uint64(t.tag)<<genCountBits|uint64(e.gen&genCountMask))
}

func (t *table[T]) at(idx uint32) *entry[T] {
	return &t.chunks[idx>>chunkBits][idx&(chunkSize-1)]
}

// get returns the live entry h names if it is of kind k, else nil.
//
// It is written to be inlined, being on every path through the API: the
// handle's slot index wraps past t.n when it names no slot, the entry is
// found without calling at, and a released slot (kind kindNone until its
// next alloc, and a generation the handles issued before do not have) is
// told by its gen alone.
func (t *table[T]) get(h handle, k kind) *entry[T] {
	if checkedMode {
		t.own.check(k)
	}
	idx, _ := h.index()
	if h.kind() != k || idx >= t.n {
		return nil
	}
	e := &t.chunks[idx>>chunkBits][idx&(chunkSize-1)]
	if e.gen != uint32(k)<<genCountBits|uint32(h)&genCountMask || h.tag() != t.tag {
		return nil
	}
	return e
}

// release frees the slot of h, whatever its reference count.
func (t *table[T]) release(h handle, e *entry[T]) {
	idx, _ := h.index()
	var zero T
	e.v = zero
	if e.cold != nil {
		*e.cold = coldHeader{}
	}
	e.refs = 0
	e.gen = (e.gen + 1) & genCountMask // kindNone, the next generation
	t.putFree(idx)
	t.live--
}

// takeFree takes the lowest released slot. Reusing the lowest first keeps
// the live entries packed at the start of the table after a churn (a burst
// of connections or timers, most of them gone since), so that a loop's
// working set stays as small as what is live: with the last-released
// first, ten thousand timers made after a million came and went would
// lie scattered over the million's slots, a cache miss each.
func (t *table[T]) takeFree() uint32 {
	h := t.free
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	t.free = h
	if len(h) == 0 {
		return top
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1] < h[c] {
			c++
		}
		if last <= h[c] {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = last
	return top
}

// putFree adds a released slot to the heap.
func (t *table[T]) putFree(idx uint32) {
	t.free = append(t.free, idx)
	h := t.free
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= idx {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = idx
}

// each calls fn for every live entry; fn may release the entry it is given.
func (t *table[T]) each(fn func(h handle, e *entry[T])) {
	t.own.check(kindNone)
	for i := uint32(0); i < t.n; i++ {
		e := t.at(i)
		if e.refs > 0 {
			fn(t.handle(i, e), e)
		}
	}
}

// addRef adds a reference to the live entry h of kind k, if there is one.
func (t *table[T]) addRef(h handle, k kind) {
	if e := t.get(h, k); e != nil {
		e.refs++
	}
}

// releaseRef drops a reference to the live entry h of kind k; the last
// one hands the entry to free. It reports whether the entry is still
// alive: false when this call freed it or h was not live.
func (t *table[T]) releaseRef(h handle, k kind, free func(handle, *entry[T])) bool {
	e := t.get(h, k)
	if e == nil {
		return false
	}
	if e.refs--; e.refs > 0 {
		return true
	}
	free(h, e)
	return false
}
