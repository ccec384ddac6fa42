//go:build race

package tlsstream

// raceEnabled: under the race detector sync.Pool drops items at random
// and instrumentation allocates, so allocation counts mean nothing.
const raceEnabled = true
