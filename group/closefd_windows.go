package group

import "golang.org/x/sys/windows"

// closeFD closes a socket detached from a loop that no loop took.
func closeFD(fd uintptr) { windows.Closesocket(windows.Handle(fd)) }
