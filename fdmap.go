//go:build unix

package eventcore

// fdMap holds a value per descriptor number, in chunks that never move. A
// slice grown by append would leave each outgrown array to the garbage
// collector, and the heap of a server that keeps taking connections would
// hold several times the map: at 10,000 idle connections, the io_uring
// poller's two maps cost 85 bytes of RSS per connection grown by append,
// against 20 for what they hold.
type fdMap[T any] struct {
	chunks []*[fdMapChunk]T
}

const fdMapChunk = 256

// ptr returns fd's slot, nil if the map never reached fd.
func (m *fdMap[T]) ptr(fd int) *T {
	if c := fd / fdMapChunk; fd >= 0 && c < len(m.chunks) {
		return &m.chunks[c][fd%fdMapChunk]
	}
	return nil
}

// at returns fd's slot, growing the map to it; fd must not be negative.
func (m *fdMap[T]) at(fd int) *T {
	for fd/fdMapChunk >= len(m.chunks) {
		m.chunks = append(m.chunks, new([fdMapChunk]T))
	}
	return &m.chunks[fd/fdMapChunk][fd%fdMapChunk]
}

// get returns fd's value, the zero value if it has none.
func (m *fdMap[T]) get(fd int) (v T) {
	if p := m.ptr(fd); p != nil {
		v = *p
	}
	return v
}

// each calls fn for every slot, in descriptor order.
func (m *fdMap[T]) each(fn func(fd int, v *T)) {
	for c, chunk := range m.chunks {
		for i := range chunk {
			fn(c*fdMapChunk+i, &chunk[i])
		}
	}
}
