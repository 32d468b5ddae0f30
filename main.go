// Command msnbridge is a Matrix ⇄ MSN Messenger puppeting bridge.
package main

import (
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"

	"github.com/msnbridge/msnbridge/bridge"
)

// Version is the bridge version. Release builds may set Tag, Commit and BuildTime with
// -ldflags "-X main.Tag=… -X main.Commit=… -X 'main.BuildTime=…'" (BuildTime in RFC 3339).
var (
	Version   = "0.1.0"
	Tag       = ""
	Commit    = ""
	BuildTime = ""
)

func main() {
	m := mxmain.BridgeMain{
		Name:        "msnbridge",
		URL:         "https://github.com/msnbridge/msnbridge",
		Description: "A Matrix-MSN Messenger puppeting bridge.",
		Version:     Version,
		Connector:   &bridge.Connector{},
	}
	m.InitVersion(Tag, Commit, BuildTime)
	m.Run()
}
