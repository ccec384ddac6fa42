package eventcore

import (
	"runtime"
	"slices"
	"testing"
)

// The platform's default driver comes first and is what New picks; poll
// is available on every POSIX system, winapi is Windows's only driver.
func TestDefaultDriver(t *testing.T) {
	want, also := "poll", "poll"
	switch runtime.GOOS {
	case "linux":
		want = "epoll"
	case "darwin", "dragonfly", "freebsd", "netbsd", "openbsd":
		want = "kqueue"
	case "windows":
		want, also = "winapi", "winapi"
	}
	names := Drivers()
	if len(names) == 0 || names[0] != want {
		t.Fatalf("Drivers() = %v, want %q first", names, want)
	}
	if !slices.Contains(names, also) {
		t.Errorf("Drivers() = %v, without %s", names, also)
	}
	t.Setenv("EVENTCORE_DRIVER", "")
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != want {
		t.Errorf("New() picked %q, want %q", d.Name(), want)
	}
	d.Dispose()
	for _, name := range names {
		if d := newTestDriver(t, name); d.Name() != name {
			t.Errorf("WithDriver(%q) gave %q", name, d.Name())
		} else {
			d.Dispose()
		}
	}
}
