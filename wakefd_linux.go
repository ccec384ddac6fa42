package eventcore

import "golang.org/x/sys/unix"

// wakeFD wakes a poller from another goroutine. On Linux it is one eventfd,
// readable while its counter is non-zero.
type wakeFD struct{ r int }

func newWakeFD() (wakeFD, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	return wakeFD{r: fd}, err
}

func (w wakeFD) signal() {
	one := [8]byte{1}
	unix.Write(w.r, one[:])
}

func (w wakeFD) drain() {
	var buf [8]byte
	unix.Read(w.r, buf[:])
}

func (w wakeFD) close() { unix.Close(w.r) }
