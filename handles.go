package eventcore

import (
	"math/rand/v2"
	"strconv"
	"sync"
)

// handle is the value inside every public handle type. Its bits are
//
//	[63..59] kind  [58..35] slot index + 1  [34..27] loop tag  [26..0] generation
//
// The kind makes a handle of one type useless as another; the generation
// makes a released handle useless once its slot is reused; the loop tag
// makes it useless to every other loop (see loopTags); the zero value
// (index 0) is never valid. A table entry keeps its kind and generation
// (header.gen), its table the loop's tag.
type handle uint64

const (
	handleKindShift = 59
	handleIndexBits = 24
	handleIndexMask = 1<<handleIndexBits - 1
	maxSlots        = handleIndexMask - 1
	handleGenBits   = 35 // the loop tag and the generation
	handleGenMask   = 1<<handleGenBits - 1
	genCountBits    = 27
	genCountMask    = 1<<genCountBits - 1
	loopTagBits     = handleGenBits - genCountBits
)

// loopTags hands each loop a tag of its own among the live loops of the
// process, while fewer than 256 are live: a handle presented to a loop
// other than the one that issued it names a tag that loop has not, and is
// refused whatever its slot and generation. Tags go round, so the tag of a
// disposed loop is the last to be taken again; past 256 live loops a new
// one shares a tag at random, and only the random first generation of its
// slots (table.salt) tells its handles from those of the loop it shares
// with.
var loopTags struct {
	mu   sync.Mutex
	used [1 << loopTagBits]bool
	next int
}

// takeLoopTag returns a tag for a new loop, and whether it is the loop's
// own, to be given back by giveLoopTag when the loop is disposed.
func takeLoopTag() (tag uint8, own bool) {
	lt := &loopTags
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for range len(lt.used) {
		t := lt.next
		lt.next = (lt.next + 1) % len(lt.used)
		if !lt.used[t] {
			lt.used[t] = true
			return uint8(t), true
		}
	}
	return uint8(rand.Uint32()), false
}

func giveLoopTag(tag uint8) {
	loopTags.mu.Lock()
	loopTags.used[tag] = false
	loopTags.mu.Unlock()
}

// kind tells which table and which type a handle belongs to.
type kind uint8

const (
	kindNone kind = iota
	kindStreamSocket
	kindStreamListener
	kindDatagramSocket
	kindTimer
	kindEvent
	kindEventWait
	kindSignal
	kindDNSLookup
	kindFile
	kindPipe
	kindWatcher
	kindProcess
	kindProcessWait
	// kindWatchNode is internal: a file or directory a snapshot watcher
	// watches (watchers_scan.go). No public handle type carries it.
	kindWatchNode
	kindInternalTimer // the driver's own timers: no user handle reaches them
	numKinds
)

var kindNames = [numKinds]string{
	kindNone:           "none",
	kindStreamSocket:   "StreamSocket",
	kindStreamListener: "StreamListener",
	kindDatagramSocket: "DatagramSocket",
	kindTimer:          "TimerID",
	kindEvent:          "EventID",
	kindEventWait:      "EventWaitID",
	kindSignal:         "SignalID",
	kindDNSLookup:      "DNSLookupID",
	kindFile:           "File",
	kindPipe:           "Pipe",
	kindWatcher:        "WatcherID",
	kindProcess:        "ProcessID",
	kindProcessWait:    "ProcessWaitID",
	kindWatchNode:      "watchNode",
	kindInternalTimer:  "internal timer",
}

// String names the handle type of the kind, for messages and leak reports.
func (k kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// makeHandle makes the handle of kind k for slot index under gen, the loop
// tag and the generation.
func makeHandle(k kind, index uint32, gen uint64) handle {
	return handle(uint64(k)<<handleKindShift | uint64(index+1)<<handleGenBits | gen&handleGenMask)
}

func (h handle) kind() kind { return kind(h >> handleKindShift) }

// index returns the slot index and whether the handle names a slot at all.
func (h handle) index() (uint32, bool) {
	i := uint32(h>>handleGenBits) & handleIndexMask
	return i - 1, i != 0
}

// gen returns the loop tag and the generation.
func (h handle) gen() uint64 { return uint64(h) & handleGenMask }

func (h handle) tag() uint8 { return uint8(h >> genCountBits) }

func (h handle) format() string {
	if h == 0 {
		return "invalid"
	}
	i, _ := h.index()
	return strconv.FormatUint(uint64(i), 10) + "." + strconv.FormatUint(uint64(h.gen()), 16)
}

// Handle is implemented by every handle type of this package. It is used
// where an operation applies to handles of any kind: [Driver.LastError] and
// [UserData].
type Handle interface {
	// String returns the kind, slot and generation, for logs.
	String() string
	raw() handle
}

// SocketHandle is implemented by the three socket handle types,
// [StreamSocket], [StreamListener] and [DatagramSocket]; it is accepted
// where the seed takes any socket (reference counting, addresses, options).
type SocketHandle interface {
	Handle
	isSocket()
}

// StreamSocket is a connected (or connecting) stream socket: TCP over IPv4
// or IPv6, or a Unix-domain stream socket. The zero value is invalid.
type StreamSocket struct{ h handle }

// StreamListener is a socket listening for stream connections.
// The zero value is invalid.
type StreamListener struct{ h handle }

// DatagramSocket is a UDP or Unix-domain datagram socket.
// The zero value is invalid.
type DatagramSocket struct{ h handle }

// TimerID is a timer. The zero value is invalid.
type TimerID struct{ h handle }

// EventID is a cross-goroutine event. The zero value is invalid.
type EventID struct{ h handle }

// EventWaitID identifies one pending [Events.Wait], so that it can be
// cancelled: Go funcs are not comparable, so the seed's
// cancelWait(event, callback) becomes CancelWait(event, waitID).
// The zero value is invalid.
type EventWaitID struct{ h handle }

// SignalID is a signal listener. The zero value is invalid.
type SignalID struct{ h handle }

// DNSLookupID is a pending DNS lookup. The zero value is invalid.
type DNSLookupID struct{ h handle }

// File is an open file. The zero value is invalid.
type File struct{ h handle }

// Pipe is one end of a pipe (or another stream descriptor that is not a
// socket, such as a terminal). The zero value is invalid.
type Pipe struct{ h handle }

// WatcherID is a directory watcher. The zero value is invalid.
type WatcherID struct{ h handle }

// ProcessID is a child (or adopted) process. The zero value is invalid.
type ProcessID struct{ h handle }

// ProcessWaitID identifies one pending [Processes.Wait], for CancelWait.
// The zero value is invalid.
type ProcessWaitID struct{ h handle }

func (s StreamSocket) raw() handle   { return s.h }
func (s StreamListener) raw() handle { return s.h }
func (s DatagramSocket) raw() handle { return s.h }
func (t TimerID) raw() handle        { return t.h }
func (e EventID) raw() handle        { return e.h }
func (w EventWaitID) raw() handle    { return w.h }
func (s SignalID) raw() handle       { return s.h }
func (l DNSLookupID) raw() handle    { return l.h }
func (f File) raw() handle           { return f.h }
func (p Pipe) raw() handle           { return p.h }
func (w WatcherID) raw() handle      { return w.h }
func (p ProcessID) raw() handle      { return p.h }
func (w ProcessWaitID) raw() handle  { return w.h }

func (StreamSocket) isSocket()   {}
func (StreamListener) isSocket() {}
func (DatagramSocket) isSocket() {}

// String returns "StreamSocket(slot.generation)".
func (s StreamSocket) String() string { return "StreamSocket(" + s.h.format() + ")" }

// String returns "StreamListener(slot.generation)".
func (s StreamListener) String() string { return "StreamListener(" + s.h.format() + ")" }

// String returns "DatagramSocket(slot.generation)".
func (s DatagramSocket) String() string { return "DatagramSocket(" + s.h.format() + ")" }

// String returns "TimerID(slot.generation)".
func (t TimerID) String() string { return "TimerID(" + t.h.format() + ")" }

// String returns "EventID(slot.generation)".
func (e EventID) String() string { return "EventID(" + e.h.format() + ")" }

// String returns "EventWaitID(slot.generation)".
func (w EventWaitID) String() string { return "EventWaitID(" + w.h.format() + ")" }

// String returns "SignalID(slot.generation)".
func (s SignalID) String() string { return "SignalID(" + s.h.format() + ")" }

// String returns "DNSLookupID(slot.generation)".
func (l DNSLookupID) String() string { return "DNSLookupID(" + l.h.format() + ")" }

// String returns "File(slot.generation)".
func (f File) String() string { return "File(" + f.h.format() + ")" }

// String returns "Pipe(slot.generation)".
func (p Pipe) String() string { return "Pipe(" + p.h.format() + ")" }

// String returns "WatcherID(slot.generation)".
func (w WatcherID) String() string { return "WatcherID(" + w.h.format() + ")" }

// String returns "ProcessID(slot.generation)".
func (p ProcessID) String() string { return "ProcessID(" + p.h.format() + ")" }

// String returns "ProcessWaitID(slot.generation)".
func (w ProcessWaitID) String() string { return "ProcessWaitID(" + w.h.format() + ")" }

// UserData returns the value of type T attached to h, creating a zero T on
// first access. The value lives as long as the handle: it is dropped when the
// last reference is released. UserData returns nil if h is not a live handle
// of d, or if the handle already carries a value of another type.
//
// It replaces the seed's userData!T; like every method but the
// goroutine-safe ones it must be called from the loop's owner goroutine.
func UserData[T any, H Handle](d *Driver, h H) *T {
	hd := d.l.header(h.raw())
	if hd == nil {
		return nil
	}
	c := hd.coldPart()
	if c.user == nil {
		p := new(T)
		c.user = p
		return p
	}
	p, _ := c.user.(*T)
	return p
}
