package leakcheck

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// ownDone is a Context that context does not know, so that a context
// derived from it waits for it on a goroutine of package context's own.
type ownDone struct {
	context.Context
	done chan struct{}
}

func (c ownDone) Done() <-chan struct{} { return c.done }

// Stray reports a goroutine of the package named that started after the
// baseline, and not once it has ended or if it was there before.
func TestStray(t *testing.T) {
	before := Goroutines()
	parent := ownDone{context.Background(), make(chan struct{})}
	_, cancel := context.WithCancel(parent)
	defer close(parent.done)
	if stray := Stray(before, "context.", 0); !strings.Contains(stray, "context.") {
		t.Fatalf("the goroutine context started was not reported; got %q", stray)
	}
	if stray := Stray(Goroutines(), "context.", 0); stray != "" {
		t.Fatalf("a goroutine there before was reported:\n%s", stray)
	}
	cancel()
	if stray := Stray(before, "context.", time.Minute); stray != "" {
		t.Fatalf("a goroutine that ended is still reported:\n%s", stray)
	}
}

// OpenFDs counts a file while it is open.
func TestOpenFDs(t *testing.T) {
	n := OpenFDs()
	if n < 0 {
		t.Skip("cannot count open descriptors here")
	}
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if m := OpenFDs(); m != n+1 {
		t.Errorf("%d open with one more file, %d before", m, n)
	}
	f.Close()
	if m := OpenFDs(); m != n {
		t.Errorf("%d open after closing it, %d before", m, n)
	}
}
