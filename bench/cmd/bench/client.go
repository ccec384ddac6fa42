package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The echo load client: one OS thread, raw non-blocking sockets and
// level-triggered epoll, so that what it spends per message (one read, one
// write, a share of an epoll_wait, a memcmp) stays below what any server
// under test spends, and the server is what is measured. Every echoed byte
// is checked: message k of a connection carries k in its first 8 bytes,
// then a fixed random pattern.

type echoConfig struct {
	conns, size, depth int // depth: messages in flight per connection
	// refill: each message that came back is answered by a new one in a
	// write of its own, so a connection's messages travel one per segment
	// and the server reads as many as arrived since its last read. Without
	// it, the messages of one read are answered in one write: the burst
	// the client wrote first comes back whole and is sent again whole, for
	// ever.
	refill    bool
	warm, dur time.Duration
}

type echoResult struct {
	msgs int64
	secs float64
	lat  histogram
}

type echoConn struct {
	fd        int
	sent      uint64  // messages sent
	recvd     uint64  // messages fully received
	rxOff     int     // bytes of message recvd received so far
	tx        []byte  // bytes waiting for the socket (a partial write)
	txOff     int     // of tx, written
	sendTimes []int64 // per in-flight slot: when its message was sent
}

type echoClient struct {
	cfg     echoConfig
	pattern []byte
	ep      int
	conns   []echoConn
	rbuf    []byte
	wbuf    []byte
	epoch   time.Time
	measure bool
	res     echoResult
}

func (c *echoClient) now() int64 { return int64(time.Since(c.epoch)) }

// runEcho drives the server at addr with cfg. window runs on the client's
// thread when the measurement starts (true) and ends (false).
func runEcho(addr netip.AddrPort, cfg echoConfig, clientCPU int, window func(start bool)) (*echoResult, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	restore := pinThread(clientCPU)
	defer restore()

	c := &echoClient{cfg: cfg, epoch: time.Now(), rbuf: make([]byte, 64<<10)}
	rng := rand.New(rand.NewPCG(1, 2))
	c.pattern = make([]byte, cfg.size)
	for i := range c.pattern {
		c.pattern[i] = byte(rng.Uint32())
	}
	var err error
	if c.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, err
	}
	defer unix.Close(c.ep)
	defer c.closeAll()
	for i := range cfg.conns {
		fd, err := dialTCP(addr)
		if err != nil {
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		c.conns = append(c.conns, echoConn{fd: fd, sendTimes: make([]int64, cfg.depth)})
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(c.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return nil, err
		}
	}
	for i := range c.conns {
		if err := c.send(i, cfg.depth); err != nil {
			return nil, err
		}
	}
	evs := make([]unix.EpollEvent, 1024)
	start := c.now()
	measureAt := start + int64(cfg.warm)
	end := measureAt + int64(cfg.dur)
	var measureStart int64
	for {
		now := c.now()
		if !c.measure && now >= measureAt {
			window(true)
			c.measure = true
			measureStart = c.now()
		}
		if now >= end {
			break
		}
		n, err := unix.EpollWait(c.ep, evs, 100)
		if err != nil && err != unix.EINTR {
			return nil, err
		}
		if n == 0 && err == nil && c.now()-now > int64(5*time.Second) {
			return nil, errors.New("the server stopped answering")
		}
		for i := range evs[:max(n, 0)] {
			ci := int(evs[i].Fd)
			if evs[i].Events&unix.EPOLLOUT != 0 {
				if err := c.flush(ci); err != nil {
					return nil, err
				}
			}
			if evs[i].Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				if err := c.receive(ci); err != nil {
					return nil, err
				}
			}
		}
	}
	finish := c.now()
	window(false)
	c.res.secs = float64(finish-measureStart) / 1e9
	return &c.res, nil
}

// receive reads what is there and checks it; every whole message is
// counted and answered by the next one.
func (c *echoClient) receive(ci int) error {
	cn := &c.conns[ci]
	n, err := unix.Read(cn.fd, c.rbuf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return nil
	case err != nil:
		return fmt.Errorf("read: %w", err)
	case n == 0:
		return errors.New("the server closed a connection")
	}
	now := c.now()
	data := c.rbuf[:n]
	done := 0
	size := c.cfg.size
	for len(data) > 0 {
		m := min(len(data), size-cn.rxOff)
		if !c.check(cn.recvd, cn.rxOff, data[:m]) {
			return fmt.Errorf("connection %d: message %d: echoed bytes differ", ci, cn.recvd)
		}
		data = data[m:]
		cn.rxOff += m
		if cn.rxOff == size {
			if c.measure {
				c.res.msgs++
				c.res.lat.record(now - cn.sendTimes[cn.recvd%uint64(c.cfg.depth)])
			}
			cn.recvd++
			cn.rxOff = 0
			done++
		}
	}
	if done > 0 && len(cn.tx) == cn.txOff {
		return c.send(ci, done)
	}
	return nil
}

// check compares part of message k, from offset off, with what was sent.
func (c *echoClient) check(k uint64, off int, got []byte) bool {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], k)
	for off < 8 && len(got) > 0 {
		if got[0] != hdr[off] {
			return false
		}
		got, off = got[1:], off+1
	}
	return bytes.Equal(got, c.pattern[off:off+len(got)])
}

// send writes the next count messages of connection ci: in one write, or
// with refill in one write each. Messages a partial write held back are
// sent by flush.
func (c *echoClient) send(ci, count int) error {
	cn := &c.conns[ci]
	per := count
	if c.cfg.refill {
		per = 1
	}
	for count > 0 {
		k := min(per, count)
		count -= k
		if err := c.write(ci, k); err != nil || len(cn.tx) > cn.txOff {
			return err
		}
	}
	return nil
}

// write writes the next count messages of connection ci in one write; what
// the socket does not take waits in tx.
func (c *echoClient) write(ci, count int) error {
	cn := &c.conns[ci]
	size := c.cfg.size
	c.wbuf = c.wbuf[:0]
	now := c.now()
	for range count {
		k := cn.sent
		off := len(c.wbuf)
		c.wbuf = append(c.wbuf, c.pattern...)
		var hdr [8]byte
		binary.LittleEndian.PutUint64(hdr[:], k)
		copy(c.wbuf[off:off+min(8, size)], hdr[:])
		cn.sendTimes[k%uint64(c.cfg.depth)] = now
		cn.sent++
	}
	n, err := unix.Write(cn.fd, c.wbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		n, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if n < len(c.wbuf) {
		cn.tx = append(cn.tx[:0], c.wbuf[n:]...)
		cn.txOff = 0
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT, Fd: int32(ci)}
		return unix.EpollCtl(c.ep, unix.EPOLL_CTL_MOD, cn.fd, &ev)
	}
	return nil
}

// flush writes what a partial write left, then sends the messages that
// were answered meanwhile.
func (c *echoClient) flush(ci int) error {
	cn := &c.conns[ci]
	for cn.txOff < len(cn.tx) {
		n, err := unix.Write(cn.fd, cn.tx[cn.txOff:])
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("write: %w", err)
		}
		cn.txOff += max(n, 0)
	}
	cn.tx, cn.txOff = cn.tx[:0], 0
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ci)}
	if err := unix.EpollCtl(c.ep, unix.EPOLL_CTL_MOD, cn.fd, &ev); err != nil {
		return err
	}
	if owed := int(cn.recvd + uint64(c.cfg.depth) - cn.sent); owed > 0 {
		return c.send(ci, owed)
	}
	return nil
}

func (c *echoClient) closeAll() {
	for _, cn := range c.conns {
		unix.Close(cn.fd)
	}
}

// dialTCP connects a blocking socket, then makes it non-blocking.
func dialTCP(addr netip.AddrPort) (int, error) {
	if !addr.Addr().IsLoopback() {
		return -1, fmt.Errorf("%v is not a loopback address", addr)
	}
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	if addr.Addr().Is6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// pinThread binds the calling OS thread to cpu (when cpu >= 0 and the
// machine has it) and returns what undoes it.
func pinThread(cpu int) func() {
	var old unix.CPUSet
	if cpu < 0 || unix.SchedGetaffinity(0, &old) != nil || !old.IsSet(cpu) {
		return func() {}
	}
	var set unix.CPUSet
	set.Set(cpu)
	if unix.SchedSetaffinity(0, &set) != nil {
		return func() {}
	}
	return func() { unix.SchedSetaffinity(0, &old) }
}
