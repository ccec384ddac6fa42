package main

import "math/bits"

// histogram counts latencies in nanoseconds in log-linear buckets: 32 per
// power of two, so a percentile is off by at most about 3 %. Recording is a
// few instructions, cheap enough for the load client's per-message path.
type histogram struct {
	counts [histBuckets]int64
	n      int64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = 40 * histSub
)

func histIndex(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	msb := bits.Len64(uint64(v)) - 1
	shift := msb - histSubBits
	i := (shift+1)*histSub + int(v>>shift) - histSub
	return min(i, histBuckets-1)
}

// histValue is the middle of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	mant := int64(i%histSub + histSub)
	return mant<<shift + (int64(1)<<shift)/2
}

func (h *histogram) record(v int64) {
	h.counts[histIndex(v)]++
	h.n++
}

// percentile returns the value below which the fraction p of samples lie.
func (h *histogram) percentile(p float64) int64 {
	if h.n == 0 {
		return 0
	}
	want := int64(p*float64(h.n)+0.5) - 1
	want = max(want, 0)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen > want {
			return histValue(i)
		}
	}
	return histValue(histBuckets - 1)
}
