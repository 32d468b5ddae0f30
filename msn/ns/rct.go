package ns

import (
	"strconv"
	"time"
)

// maxRCTMinutes bounds the delay of "OUT RCT <minutes>" (a day): the session reports what the
// server asked for, within reason; a caller applies its own policy on top (the bridge waits at
// most 2 hours, see bridge/retry.go).
const maxRCTMinutes = 24 * 60

// rctDelay parses the minutes of "OUT RCT <minutes>" (MSNP11+ temporary closure); zero when
// absent or not a positive number, capped at a day.
func rctDelay(arg string) time.Duration {
	n, err := strconv.Atoi(arg)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, maxRCTMinutes)) * time.Minute
}
