// Command bench runs the side-by-side benchmarks of eventcore: TCP echo,
// HTTP plaintext, idle-connection memory, timers and cross-goroutine
// wake-ups, each against the alternatives a Go user would consider, in one
// run, and reports ratios.
//
//	go run ./cmd/bench -quick                       # under 3 minutes
//	go run ./cmd/bench -json results/full.json -report ../BENCHMARKS.md
//
// Servers run as their own processes pinned to CPU 0 (Go servers with
// GOMAXPROCS=1); the load client runs pinned to CPU 1. Implementations are
// alternated within each repetition, and medians are reported with the
// range over repetitions.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eventcore-go/eventcore"
)

// settings are what -quick and -full choose, and the flags refine.
type settings struct {
	reps      int
	warm, dur time.Duration
	idleConns int
	timers    int
	wakes     int
}

var (
	quickSettings = settings{reps: 2, warm: 300 * time.Millisecond, dur: 700 * time.Millisecond, idleConns: 10000, timers: 1000000, wakes: 200000}
	fullSettings  = settings{reps: 5, warm: time.Second, dur: 3 * time.Second, idleConns: 10000, timers: 1000000, wakes: 1000000}
	smokeSettings = settings{reps: 1, warm: 100 * time.Millisecond, dur: 200 * time.Millisecond, idleConns: 200, timers: 10000, wakes: 10000}
)

const (
	serverCPU = 0
	clientCPU = 1
)

type runner struct {
	set     settings
	bins    string   // where the built servers are
	drivers []string // eventcore drivers measured
	res     *results
	log     *log.Logger
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-role" {
		os.Exit(runRole(os.Args[2], os.Args[3:]))
	}
	quick := flag.Bool("quick", false, "quick mode: fewer and shorter repetitions (under 3 minutes)")
	smoke := flag.Bool("smoke", false, "a seconds-long run that only checks that everything works (for CI)")
	only := flag.String("only", "", "comma-separated workload groups to run: echo,scale,http,idle,timers,wake,tls (default all)")
	reps := flag.Int("reps", 0, "repetitions (default: 2 quick, 5 full)")
	dur := flag.Duration("dur", 0, "measurement time per run (default: 0.7s quick, 3s full)")
	jsonOut := flag.String("json", "", "write every figure to this JSON file")
	report := flag.String("report", "", "write a Markdown report (BENCHMARKS.md) here")
	charts := flag.String("charts", "charts", "with -report: the folder for the SVG charts")
	notes := flag.String("notes", "NOTES.md", "with -report: hand-written notes appended to the report, if the file exists")
	drivers := flag.String("drivers", "", "comma-separated eventcore drivers to measure (default: every one eventcore.Drivers() lists)")
	flag.Parse()

	set, mode := fullSettings, "full"
	switch {
	case *smoke:
		set, mode = smokeSettings, "smoke"
	case *quick:
		set, mode = quickSettings, "quick"
	}
	if *reps > 0 {
		set.reps = *reps
	}
	if *dur > 0 {
		set.dur = *dur
	}
	r := &runner{set: set, res: newResults(), log: log.New(os.Stderr, "", 0)}
	r.drivers = eventcore.Drivers()
	if *drivers != "" {
		r.drivers = strings.Split(*drivers, ",")
	}
	groups := map[string]bool{"echo": true, "scale": true, "http": true, "idle": true, "timers": true, "wake": true, "tls": true}
	if *only != "" {
		groups = map[string]bool{}
		for _, g := range strings.Split(*only, ",") {
			groups[g] = true
		}
	}
	if *smoke {
		groups["http"] = groups["http"] && haveWrk()
		groups["tls"] = groups["tls"] && haveWrk()
	}

	// The outputs' folders are made before the run, not after it: a full
	// run takes a quarter of an hour.
	for _, out := range []string{*jsonOut, *report} {
		if out != "" {
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				log.Fatal(err)
			}
		}
	}

	started := time.Now()
	loadStart := loadAvg()
	dir, err := os.MkdirTemp("", "eventcore-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	r.bins = dir
	r.log.Printf("building the servers...")
	if err := buildServers(dir); err != nil {
		log.Fatal(err)
	}
	fail := func(err error) {
		if err != nil {
			r.log.Printf("FAILED: %v", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	if groups["echo"] {
		fail(r.runEcho(*smoke))
	}
	if groups["scale"] && !*smoke {
		fail(r.runScale())
		fail(r.runHTTPScale())
	}
	if groups["http"] {
		fail(r.runHTTP(*smoke))
	}
	if groups["idle"] {
		fail(r.runIdle())
	}
	if groups["tls"] {
		fail(r.runTLS(*smoke))
	}
	if groups["timers"] {
		fail(r.runTimers())
	}
	if groups["wake"] {
		fail(r.runWake())
	}
	elapsed := time.Since(started)
	cmdline := "go run ./cmd/bench " + strings.Join(os.Args[1:], " ")
	fmt.Println()
	fmt.Print(r.ratioTable(false))
	fmt.Println()
	fmt.Print(r.barReport(false))
	fmt.Printf("\n%s mode, %d repetitions, %v in all\n", mode, set.reps, elapsed.Round(time.Second))
	if *jsonOut != "" {
		fail(r.res.writeJSON(*jsonOut))
		r.log.Printf("wrote %s", *jsonOut)
	}
	if *report != "" {
		fail(r.writeReport(reportInfo{
			command: strings.TrimSpace(cmdline), mode: mode, started: started,
			elapsed: elapsed, jsonPath: *jsonOut, notes: *notes,
			load:       [2]string{loadStart, loadAvg()},
			reportPath: *report, chart: *charts,
		}))
		r.log.Printf("wrote %s and charts in %s", *report, *charts)
	}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
