// Command drivers prints the drivers eventcore offers on this machine, the
// default first, one per line: .ci/run runs the suite once per driver, and
// io_uring's is offered only where the system allows it.
package main

import (
	"fmt"

	"github.com/eventcore-go/eventcore"
)

func main() {
	for _, name := range eventcore.Drivers() {
		fmt.Println(name)
	}
}
