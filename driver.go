package eventcore

import (
	"net"
	"os"
	"sort"
)

// Driver is one event loop with everything that runs on it. Create it with
// [New]; free it with Dispose.
//
// A Driver belongs to the goroutine that runs its loop (Core().ProcessEvents):
// only that goroutine may call its methods, except the few documented as
// goroutine-safe (Core.Exit, Core.RunInOwnerThread, Events.Trigger). Several
// drivers may run in one process, each on its own goroutine.
//
// A call from another goroutine is not detected by default; it corrupts the
// loop's state silently. To find such calls, build or test with the tag
// eventcore_checked (go test -tags eventcore_checked ./...): every
// loop-only method then checks the calling goroutine, and panics at the
// wrong call, naming the method, the calling goroutine and the owner (with
// the owner's stack when it took the loop). The owner is the goroutine that
// created the driver until a ProcessEvents runs; a ProcessEvents called
// while no other runs (not from a callback), or a Dispose called then,
// makes its goroutine the owner: that is how a loop is handed over, so a
// goroutine taking over a loop calls ProcessEvents first (ProcessEvents(0)
// will do). Checking costs a stack trace per call; without the tag it
// costs nothing.
type Driver struct{ l *loop }

// Option configures [New].
type Option func(*config)

type config struct {
	driver     string
	workers    int
	dnsWorkers int
	resolver   *net.Resolver
	loanSize   int
}

// WithDriver picks a driver by name instead of the platform's default; see
// [Drivers]. It overrides EVENTCORE_DRIVER.
func WithDriver(name string) Option { return func(c *config) { c.driver = name } }

type backend struct {
	name string
	prio int // the default is the backend with the lowest
	init func(*loop) error
	// usable, if set, tells whether the system allows the driver here
	// (io_uring may be disabled); Drivers lists it and New picks it by
	// default only if so.
	usable func() bool
}

var backends []backend

// allowed tells whether the system allows the driver here.
func (b backend) allowed() bool { return b.usable == nil || b.usable() }

// registerBackend is called by the init function of each driver's file.
func registerBackend(name string, prio int, init func(*loop) error) {
	backends = append(backends, backend{name: name, prio: prio, init: init})
	sort.SliceStable(backends, func(i, j int) bool { return backends[i].prio < backends[j].prio })
}

// Drivers returns the names of the drivers available on this platform, the
// default first; a driver the system does not allow here (io_uring where
// it is disabled) is left out.
func Drivers() []string {
	names := make([]string, 0, len(backends))
	for _, b := range backends {
		if b.allowed() {
			names = append(names, b.name)
		}
	}
	return names
}

// New creates a driver: the one named by [WithDriver], else by the
// environment variable EVENTCORE_DRIVER, else the platform's default
// (epoll on Linux, kqueue on macOS and the BSDs, winapi on Windows). An
// unknown name gives ErrUnknownDriver.
func New(opts ...Option) (*Driver, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	name := cfg.driver
	if name == "" {
		name = os.Getenv("EVENTCORE_DRIVER")
	}
	for _, b := range backends {
		if name == b.name || name == "" && b.allowed() {
			l := newLoop(b.name)
			if cfg.workers > 0 {
				l.workers.max = cfg.workers
			}
			if cfg.dnsWorkers > 0 {
				l.dnsWorkers.max = cfg.dnsWorkers
			}
			if cfg.resolver != nil {
				l.resolver = cfg.resolver
			}
			if cfg.loanSize > 0 {
				l.loans.size = cfg.loanSize
			}
			if err := b.init(l); err != nil {
				return nil, err
			}
			return &Driver{l}, nil
		}
	}
	return nil, ErrUnknownDriver
}

// Name returns the driver's name, e.g. "epoll".
func (d *Driver) Name() string { return d.l.name }

// Core returns the loop's control: ProcessEvents, Exit, WaiterCount.
func (d *Driver) Core() Core { return Core{d.l} }

// Timers returns the timer API.
func (d *Driver) Timers() Timers { return Timers{d.l} }

// Events returns the cross-goroutine event API.
func (d *Driver) Events() Events { return Events{d.l} }

// Signals returns the signal API.
func (d *Driver) Signals() Signals { return Signals{d.l} }

// Sockets returns the socket API.
func (d *Driver) Sockets() Sockets { return Sockets{d.l} }

// Files returns the file API.
func (d *Driver) Files() Files { return Files{d.l} }

// Watchers returns the directory watching API.
func (d *Driver) Watchers() Watchers { return Watchers{d.l} }

// Pipes returns the pipe API.
func (d *Driver) Pipes() Pipes { return Pipes{d.l} }

// Processes returns the child process API.
func (d *Driver) Processes() Processes { return Processes{d.l} }

// DNS returns the name resolution API.
func (d *Driver) DNS() DNS { return DNS{d.l} }

// Dispose closes every handle still open and frees the driver. It reports
// whether nothing was left open: when it returns false, OpenHandles lists
// what was (the leak report). After Dispose every call fails gracefully:
// handles are invalid, creating new ones fails with ErrDisposed, and
// ProcessEvents returns ExitOutOfWaiters. Calling it again only repeats the
// report.
func (d *Driver) Dispose() bool { return d.l.dispose() }

// OpenHandles lists the handles that are open now or, after Dispose, the
// ones that Dispose found open.
func (d *Driver) OpenHandles() []HandleInfo {
	if d.l.disposed {
		return append([]HandleInfo(nil), d.l.leaks...)
	}
	return d.l.openHandles()
}

// LastError returns the error behind the last failure status reported for
// h (a failed connect, an IOStatusError or IOStatusDisconnected, a failed
// option), nil if none; ErrInvalidHandle if h is not a live handle, and
// ErrDisposed after Dispose.
func (d *Driver) LastError(h Handle) error {
	if d.l.disposed {
		return ErrDisposed
	}
	if hd := d.l.header(h.raw()); hd != nil {
		return hd.lastErr()
	}
	return ErrInvalidHandle
}
