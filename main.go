// Command msnbridge is a Matrix ⇄ MSN Messenger puppeting bridge.
package main

import (
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"

	"github.com/msnbridge/msnbridge/bridge"
)

// Version is the bridge version; release builds may override it with -ldflags.
var Version = "0.1.0"

func main() {
	m := mxmain.BridgeMain{
		Name:        "msnbridge",
		URL:         "https://github.com/msnbridge/msnbridge",
		Description: "A Matrix-MSN Messenger puppeting bridge.",
		Version:     Version,
		Connector:   &bridge.Connector{},
	}
	m.Run()
}
