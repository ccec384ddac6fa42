//go:build unix && !linux

package eventcore

import "golang.org/x/sys/unix"

// wakeFD wakes a poller from another goroutine. Without eventfd it is a
// non-blocking pipe: signal writes a byte to w, r is readable until drained.
type wakeFD struct{ r, w int }

func newWakeFD() (wakeFD, error) {
	var p [2]int
	if err := sysPipe(&p); err != nil {
		return wakeFD{}, err
	}
	w := wakeFD{r: p[0], w: p[1]}
	if err := unix.SetNonblock(w.r, true); err != nil {
		w.close()
		return wakeFD{}, err
	}
	if err := unix.SetNonblock(w.w, true); err != nil {
		w.close()
		return wakeFD{}, err
	}
	return w, nil
}

// signal needs no retry: a full pipe is readable already.
func (w wakeFD) signal() {
	one := [1]byte{1}
	unix.Write(w.w, one[:])
}

// drain empties the pipe, so that an edge-triggered poller reports the
// next signal again.
func (w wakeFD) drain() {
	var buf [64]byte
	for {
		n, err := unix.Read(w.r, buf[:])
		if err != unix.EINTR && n < len(buf) {
			return
		}
	}
}

func (w wakeFD) close() {
	unix.Close(w.r)
	unix.Close(w.w)
}
