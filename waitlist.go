package eventcore

// A waitList is a FIFO of waiters (callbacks with IDs, for cancelling)
// threaded through a table of waiter entries, so that adding, cancelling
// and waking allocate nothing in steady state. Events and process exits use
// it.
type waitList struct {
	head, tail uint32 // waiter slots + 1, oldest first; 0 when empty
	seq        uint32 // sequence number of the next waiter
}

type waiter[C any] struct {
	owner      handle
	prev, next uint32
	seq        uint32
	cb         C
}

// addWaiter appends cb to list; it returns 0 when the table is full.
func addWaiter[C any](t *table[waiter[C]], k kind, list *waitList, owner handle, cb C) handle {
	wh, w := t.alloc(k)
	if w == nil {
		return 0
	}
	idx, _ := wh.index()
	w.v = waiter[C]{owner: owner, prev: list.tail, seq: list.seq, cb: cb}
	list.seq++
	if list.tail != 0 {
		t.at(list.tail - 1).v.next = idx + 1
	} else {
		list.head = idx + 1
	}
	list.tail = idx + 1
	return wh
}

// removeWaiter unlinks and frees the waiter wh of list.
func removeWaiter[C any](t *table[waiter[C]], list *waitList, wh handle, w *entry[waiter[C]]) {
	if w.v.prev != 0 {
		t.at(w.v.prev - 1).v.next = w.v.next
	} else {
		list.head = w.v.next
	}
	if w.v.next != 0 {
		t.at(w.v.next - 1).v.prev = w.v.prev
	} else {
		list.tail = w.v.prev
	}
	t.release(wh, w)
}

// popWaiter removes the oldest waiter of list that was added before the
// sequence number limit, and returns its callback.
func popWaiter[C any](t *table[waiter[C]], list *waitList, limit uint32) (C, bool) {
	var cb C
	if list.head == 0 {
		return cb, false
	}
	idx := list.head - 1
	w := t.at(idx)
	if int32(w.v.seq-limit) >= 0 {
		return cb, false
	}
	cb = w.v.cb
	removeWaiter(t, list, t.handle(idx, w), w)
	return cb, true
}

// clearWaiters frees every waiter of list and returns how many there were.
func clearWaiters[C any](t *table[waiter[C]], list *waitList) int {
	n := 0
	for list.head != 0 {
		idx := list.head - 1
		w := t.at(idx)
		removeWaiter(t, list, t.handle(idx, w), w)
		n++
	}
	return n
}
