package eventcore

import (
	"os"
	"strconv"
)

// soak is the factor EVENTCORE_SOAK sets for the load tests (churn, storms,
// hammering): 1 by default, so that CI stays bounded; a soak run multiplies
// their counts, e.g. EVENTCORE_SOAK=50 for five million churn cycles.
var soak = func() int {
	n, err := strconv.Atoi(os.Getenv("EVENTCORE_SOAK"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}()
