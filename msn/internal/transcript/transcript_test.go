package transcript

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

func loadAll(t *testing.T) map[string]*Transcript {
	t.Helper()
	dir, err := Dir()
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("shared transcripts not present:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(files) == 0 {
		t.Skip("no transcripts in", dir)
	}
	out := map[string]*Transcript{}
	for _, f := range files {
		tr, err := ParseFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = tr
	}
	return out
}

// Every untrimmed payload must rebuild to exactly its declared length: that is what proves the
// CRLF reconstruction right.
func TestPayloadsRebuildToDeclaredLength(t *testing.T) {
	all := loadAll(t)
	checked := 0
	for name, tr := range all {
		for _, e := range tr.Entries {
			dir := wire.FromServer
			if e.Dir == ClientToServer {
				dir = wire.FromClient
			}
			_, plen, err := wire.ParseLine(e.Line, dir)
			if err != nil || plen < 0 || e.Trimmed || plen == 0 {
				continue
			}
			if len(e.Payload) != plen {
				t.Errorf("%s:%d %q: rebuilt %d bytes, declared %d", name, e.LineNo, e.Line, len(e.Payload), plen)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("only %d payloads checked", checked)
	}
}

func TestParseMSNP8(t *testing.T) {
	tr, err := Load("transcript_msnp8.txt")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	bob := tr.Conn("bob", "NS")
	if len(bob) < 10 {
		t.Fatalf("bob NS has %d entries", len(bob))
	}
	if bob[0].Line != "VER 1 MSNP8 CVR0" || bob[0].Dir != ClientToServer {
		t.Errorf("first entry %+v", bob[0])
	}
	var profile *Entry
	for i := range bob {
		if strings.HasPrefix(bob[i].Line, "MSG Hotmail Hotmail") {
			profile = &bob[i]
			break
		}
	}
	if profile == nil || !profile.Trimmed || !strings.Contains(string(profile.Payload), "text/x-msmsgsprofile") {
		t.Fatalf("profile entry %+v", profile)
	}
	cmd, err := profile.Command()
	if err != nil || !cmd.HasPayload || len(cmd.Payload) != len(profile.Payload) {
		t.Fatalf("command %v %v", cmd, err)
	}
	if strings.Contains(string(cmd.Payload), "trimmed") {
		t.Error("trim marker left in payload")
	}
}

func TestReplayMapsTrIDsAndDetectsMismatch(t *testing.T) {
	src := `[a NS] >>> VER 1 MSNP8 CVR0
[a NS] <<< VER 1 MSNP8
[a NS] >>> CHG 2 NLN 0
[a NS] <<< CHG 2 NLN 0
[a NS] <<< ILN 2 NLN b@x b 0
`
	tr, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	run := func(second *wire.Command) (error, []*wire.Command) {
		c, s := net.Pipe()
		defer c.Close()
		r := &Replay{Entries: tr.Conn("a", "NS"), Timeout: 2 * time.Second}
		errc := make(chan error, 1)
		go func() { errc <- r.Serve(s); s.Close() }()
		w := wire.NewWriter(c)
		rd := wire.NewReader(c, wire.FromServer, wire.Limits{})
		var got []*wire.Command
		if err := w.WriteCommand(wire.New("VER", 7, "MSNP8", "CVR0")); err != nil {
			t.Fatal(err)
		}
		cmd, err := rd.ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cmd)
		if err := w.WriteCommand(second); err != nil {
			return <-errc, got
		}
		for {
			cmd, err := rd.ReadCommand()
			if err != nil {
				break
			}
			got = append(got, cmd)
		}
		return <-errc, got
	}
	err, got := run(wire.New("CHG", 9, "NLN", "0"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].TrID != 7 || got[1].TrID != 9 || got[2].Name != "ILN" || got[2].TrID != 9 {
		t.Fatalf("replies %v", got)
	}
	err, _ = run(wire.New("CHG", 9, "BSY", "0"))
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("want mismatch, got %v", err)
	}
}

func TestConnectionsSplitByCaseAndConnect(t *testing.T) {
	src := `########## case: one
[a NS] --- connected to x
[a NS] >>> VER 1 MSNP8 CVR0
[a NS] <<< VER 1 MSNP8
[a NS] --- connected to x
[a NS] >>> VER 1 MSNP12 CVR0
########## case: two
[a NS] --- connected to x
[a NS] >>> VER 1 MSNP18 CVR0
[b NS] >>> VER 1 MSNP7 CVR0
`
	tr, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	one := tr.Connections("one", "a", "NS")
	if len(one) != 2 || len(one[0]) != 2 || len(one[1]) != 1 || one[1][0].Line != "VER 1 MSNP12 CVR0" {
		t.Fatalf("case one: %+v", one)
	}
	all := tr.Connections("", "a", "NS")
	if len(all) != 3 || all[2][0].Case != "two" {
		t.Fatalf("all: %+v", all)
	}
}

func TestDirFromEnvironment(t *testing.T) {
	d := t.TempDir()
	t.Setenv(EnvDir, d)
	if got, err := Dir(); err != nil || got != d {
		t.Fatalf("Dir() = %q, %v; want %q", got, err, d)
	}
	t.Setenv(EnvDir, filepath.Join(d, "missing"))
	if _, err := Dir(); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a wrong %s gave %v; want an error that does not look like a missing checkout", EnvDir, err)
	}
}
