// Command msnbridge is a Matrix ⇄ MSN Messenger puppeting bridge.
package main

import (
	"fmt"
	"os"

	"go.mau.fi/util/progver"
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"

	"github.com/msnbridge/msnbridge/bridge"
)

// Version is the bridge version. `make build`, `make demo` and the Dockerfile set Tag, Commit
// and BuildTime with -ldflags "-X main.Tag=… -X main.Commit=… -X main.BuildTime=…" (BuildTime
// in RFC 3339); a plain `go build` in a git checkout still finds the commit in Go's build info.
var (
	Version   = "0.1.0"
	Tag       = ""
	Commit    = ""
	BuildTime = ""
)

const (
	name = "msnbridge"
	url  = "https://github.com/msnbridge/msnbridge"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Print(versionText())
		return
	}
	m := mxmain.BridgeMain{
		Name:        name,
		URL:         url,
		Description: "A Matrix-MSN Messenger puppeting bridge.",
		Version:     Version,
		Connector:   &bridge.Connector{},
	}
	m.InitVersion(Tag, Commit, BuildTime)
	// What m.Run does, with the database URI tuned between loading the config and opening the
	// database (SQLite gets a prepared-statement cache: see bridge.TuneDatabaseURI).
	m.PreInit()
	m.Config.Database.URI = bridge.TuneDatabaseURI(m.Config.Database.Type, m.Config.Database.URI)
	m.Init()
	m.Start()
	code := m.WaitForInterrupt()
	m.Stop()
	os.Exit(code)
}

// versionText is what `msnbridge version` prints: mautrix's one-line description (the same as
// `--version` and the bot's `version` command) followed by the full commit and the build time,
// so a deployer can tell exactly which source is running.
func versionText() string {
	v := progver.ProgramVersion{Name: name, URL: url, BaseVersion: Version}.Init(Tag, Commit, BuildTime)
	built := "unknown"
	if !v.BuildTime.IsZero() {
		built = v.BuildTime.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	tag := v.Tag
	if tag == "" {
		tag = "none"
	}
	return fmt.Sprintf("%s\ncommit: %s\ntag: %s\nbuild time: %s\n", v.VersionDescription, v.Commit, tag, built)
}
