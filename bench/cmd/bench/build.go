package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildServers builds every server under test into dir: the Go ones with
// go build, the C floor with the system C compiler.
func buildServers(dir string) error {
	root, err := moduleDir()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./servers/ececho", "./servers/netecho", "./servers/netpollecho",
		"./servers/nethttp", "./servers/fasthttp",
		"github.com/eventcore-go/eventcore/examples/http")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cmd = exec.Command(cc, "-O2", "-pthread", "-o", filepath.Join(dir, "cecho"), filepath.Join("servers", "cecho", "cecho.c"))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", cc, err, out)
	}
	// The C io_uring server needs liburing (Debian: liburing-dev); without
	// it, its rows are left out.
	cmd = exec.Command(cc, "-O2", "-o", filepath.Join(dir, "curing"), filepath.Join("servers", "curing", "curing.c"), "-luring")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: the C io_uring server is left out: %s: %v\n%s", cc, err, out)
	}
	return nil
}

// moduleDir is the bench module's folder.
func moduleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if filepath.Base(filepath.Dir(mod)) != "bench" {
		return "", fmt.Errorf("run the benchmark from the bench folder (go.mod here is %q)", mod)
	}
	return filepath.Dir(mod), nil
}
