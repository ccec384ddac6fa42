package eventcore

import _ "unsafe" // for go:linkname

// nanotime is the runtime's monotonic clock, the one time.Since reads, read
// without time.Since's wrappers (about 2 ns of a 38 ns timer re-arm). The
// runtime keeps this name reachable by linkname for the packages that use
// it so.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
