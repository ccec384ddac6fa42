//go:build !race

package eventcore

const raceEnabled = false
