//go:build !race

package tlsstream

const raceEnabled = false
