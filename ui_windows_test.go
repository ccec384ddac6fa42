package eventcore

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// UI message integration: ProcessEvents is the owner thread's message
// loop. The test makes a real window (Wine runs it on its null display
// driver), posts messages to it from the loop's thread and from another
// goroutine, and checks that its window procedure ran inside
// ProcessEvents, on the loop's thread; PostQuitMessage ends the loop with
// ExitExited.

var (
	procRegisterClassEx = moduser32.NewProc("RegisterClassExW")
	procUnregisterClass = moduser32.NewProc("UnregisterClassW")
	procCreateWindowEx  = moduser32.NewProc("CreateWindowExW")
	procDestroyWindow   = moduser32.NewProc("DestroyWindow")
	procDefWindowProc   = moduser32.NewProc("DefWindowProcW")
	procPostMessage     = moduser32.NewProc("PostMessageW")
	procPostQuitMessage = moduser32.NewProc("PostQuitMessage")
)

type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

const (
	wmUser             = 0x0400
	wmCount            = wmUser + 1 // the window procedure counts it
	wmQuitFromProc     = wmUser + 2 // the window procedure calls PostQuitMessage
	wsOverlappedWindow = 0x00CF0000
	cwUseDefault       = 0x80000000
)

// uiState is what the window procedure records; one test at a time uses it.
var uiState struct {
	inLoop  bool   // ProcessEvents is running
	count   int    // wmCount messages handled
	outside int    // ... of which outside ProcessEvents
	tid     uint32 // the thread the last one ran on
	params  []uintptr
}

var testWndProc = windows.NewCallback(func(hwnd, msg, wParam, lParam uintptr) uintptr {
	switch msg {
	case wmCount:
		uiState.count++
		if !uiState.inLoop {
			uiState.outside++
		}
		uiState.tid = windows.GetCurrentThreadId()
		uiState.params = append(uiState.params, wParam)
		return 0
	case wmQuitFromProc:
		syscall.SyscallN(procPostQuitMessage.Addr(), 7)
		return 0
	}
	r, _, _ := syscall.SyscallN(procDefWindowProc.Addr(), hwnd, msg, wParam, lParam)
	return r
})

func postMessage(t *testing.T, hwnd, msg, wParam uintptr) {
	if r, _, err := syscall.SyscallN(procPostMessage.Addr(), hwnd, msg, wParam, 0); r == 0 {
		t.Errorf("PostMessage: %v", err)
	}
}

func TestUIMessages(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		uiState.inLoop, uiState.count, uiState.outside, uiState.params = false, 0, 0, nil
		// New locked this goroutine to its thread: the window is the loop's.
		if tid := windows.GetCurrentThreadId(); tid != d.l.home.Load() {
			t.Fatalf("creating goroutine on thread %d, loop owned by %d", tid, d.l.home.Load())
		}
		className, _ := windows.UTF16PtrFromString("eventcoreTestWindow")
		wc := wndClassEx{wndProc: testWndProc, className: className}
		wc.size = uint32(unsafe.Sizeof(wc))
		if r, _, err := syscall.SyscallN(procRegisterClassEx.Addr(), uintptr(unsafe.Pointer(&wc))); r == 0 {
			t.Fatalf("RegisterClassEx: %v", err)
		}
		defer syscall.SyscallN(procUnregisterClass.Addr(), uintptr(unsafe.Pointer(className)), 0)
		title, _ := windows.UTF16PtrFromString("eventcore")
		hwnd, _, err := syscall.SyscallN(procCreateWindowEx.Addr(), 0, uintptr(unsafe.Pointer(className)),
			uintptr(unsafe.Pointer(title)), wsOverlappedWindow, cwUseDefault, cwUseDefault, 200, 100, 0, 0, 0, 0)
		if hwnd == 0 {
			t.Fatalf("CreateWindowEx: %v", err)
		}
		defer syscall.SyscallN(procDestroyWindow.Addr(), hwnd)

		// Something to keep the loop alive: window messages are not
		// waiters.
		ev := d.Events().Create()
		d.Events().Wait(ev, func(EventID) {})
		run := func(timeout time.Duration) ExitReason {
			uiState.inLoop = true
			defer func() { uiState.inLoop = false }()
			return d.Core().ProcessEvents(timeout)
		}

		// From the loop's own thread.
		postMessage(t, hwnd, wmCount, 1)
		if uiState.count != 0 {
			t.Fatal("a posted message was handled before the loop ran")
		}
		deadline := time.Now().Add(hangLimit)
		for uiState.count < 1 && time.Now().Before(deadline) {
			run(10 * time.Millisecond)
		}
		if uiState.count != 1 {
			t.Fatalf("window procedure ran %d times for one message", uiState.count)
		}

		// From another goroutine, while the loop is blocked with nothing
		// else to do: the message wakes it.
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			time.Sleep(20 * time.Millisecond)
			postMessage(t, hwnd, wmCount, 2)
		}()
		for uiState.count < 2 && time.Now().Before(deadline) {
			if r := run(Infinite); r != ExitIdle {
				t.Fatalf("ProcessEvents(Infinite) woken by a message returned %v", r)
			}
		}
		if uiState.count != 2 || uiState.outside != 0 || uiState.tid != d.l.home.Load() {
			t.Fatalf("handled %d, %d outside ProcessEvents, last on thread %d (loop's: %d)",
				uiState.count, uiState.outside, uiState.tid, d.l.home.Load())
		}
		if len(uiState.params) != 2 || uiState.params[0] != 1 || uiState.params[1] != 2 {
			t.Fatalf("messages handled in the order %v", uiState.params)
		}

		// WM_QUIT, posted by the window procedure, ends the loop.
		postMessage(t, hwnd, wmQuitFromProc, 0)
		if r := run(Infinite); r != ExitExited {
			t.Fatalf("ProcessEvents after PostQuitMessage in the window procedure = %v", r)
		}
		// ... and from the loop's thread outside any window procedure.
		syscall.SyscallN(procPostQuitMessage.Addr(), 0)
		if r := run(Infinite); r != ExitExited {
			t.Fatalf("ProcessEvents after PostQuitMessage = %v", r)
		}
		// The exit was consumed.
		if r := run(0); r == ExitExited {
			t.Fatal("a WM_QUIT ended two ProcessEvents calls")
		}
		d.Events().ReleaseRef(ev)
	})
}
