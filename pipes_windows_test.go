package eventcore

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/windows"
)

var testPipeSeq atomic.Uint64

// adoptPipe makes a named pipe whose both ends do overlapped I/O, and
// adopts its reading end r and its writing end w.
func adoptPipe(t *testing.T, d *Driver) (r, w Pipe) {
	t.Helper()
	name, _ := windows.UTF16PtrFromString(fmt.Sprintf(`\\.\pipe\eventcore-test-%d-%d`, os.Getpid(), testPipeSeq.Add(1)))
	rh, err := windows.CreateNamedPipe(name, pipeAccessInbound|windows.FILE_FLAG_OVERLAPPED|fileFlagFirstPipe,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|pipeRejectRemote, 1, pipeBufferSize, pipeBufferSize, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := windows.CreateFile(name, windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		windows.CloseHandle(rh)
		t.Fatal(err)
	}
	if r, err = d.Pipes().Adopt(uintptr(rh)); err != nil {
		windows.CloseHandle(rh)
		windows.CloseHandle(wh)
		t.Fatal(err)
	}
	if w, err = d.Pipes().Adopt(uintptr(wh)); err != nil {
		windows.CloseHandle(wh)
		t.Fatal(err)
	}
	return r, w
}
