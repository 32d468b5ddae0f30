package transcript

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// Direction says who sent a transcript line.
type Direction int

const (
	// ClientToServer is a ">>>" line.
	ClientToServer Direction = iota
	// ServerToClient is a "<<<" line.
	ServerToClient
)

// Entry is one command of a transcript, with its payload rebuilt from the "    | " lines.
type Entry struct {
	// Who is the participant ("alice"), Channel the connection ("NS", "SB").
	Who, Channel string
	// Dir says who sent the command.
	Dir Direction
	// Line is the command line as shown, without the "[who CHAN] >>> " prefix.
	Line string
	// Payload is the rebuilt payload of a payload command (nil otherwise).
	Payload []byte
	// Trimmed reports that the transcript cut the payload; Payload then holds only the shown text.
	Trimmed bool
	// LineNo is the 1-based line number of the command in the file.
	LineNo int
	// Case is the name of the "########## case: name" section the entry is in ("" before any).
	Case string
	// ConnSeq counts the "--- connected" lines of this participant and channel up to the
	// entry: entries of one TCP connection share it.
	ConnSeq int
}

// Command parses the entry into a wire command. For payload commands the payload is the rebuilt
// one and the declared length is fixed up to match it.
func (e Entry) Command() (*wire.Command, error) {
	dir := wire.FromServer
	if e.Dir == ClientToServer {
		dir = wire.FromClient
	}
	cmd, plen, err := wire.ParseLine(e.Line, dir)
	if err != nil {
		return nil, fmt.Errorf("transcript line %d: %w", e.LineNo, err)
	}
	if plen >= 0 {
		cmd.HasPayload = true
		cmd.Payload = append([]byte{}, e.Payload...)
	}
	return cmd, nil
}

// Transcript is a parsed transcript file.
type Transcript struct {
	Entries []Entry
}

var (
	cmdRe   = regexp.MustCompile(`^\[(\S+) (\S+)\] (>>>|<<<) (.*)$`)
	payRe   = regexp.MustCompile(`^\[(\S+) (\S+)\]     \| ?(.*)$`)
	connRe  = regexp.MustCompile(`^\[(\S+) (\S+)\] --- connected`)
	caseRe  = regexp.MustCompile(`^#+ case: (\S+)`)
	trimRe  = regexp.MustCompile(`(?:\.\.\.|…)? ?\[trimmed, (\d+) bytes total\]$`)
	maxLine = 1 << 20
)

// Parse reads a transcript. Lines that are not commands or payload lines (connection notes,
// "===" observations, HTTP exchanges) are skipped.
func Parse(r io.Reader) (*Transcript, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	t := &Transcript{}
	var cur *Entry
	var payLines []string
	var declared int
	flush := func() {
		if cur == nil {
			return
		}
		if payLines != nil {
			cur.Payload = rebuild(payLines, declared, &cur.Trimmed)
		} else if declared > 0 {
			// Payload lines missing from the transcript: keep an empty payload.
			cur.Payload = []byte{}
		}
		t.Entries = append(t.Entries, *cur)
		cur, payLines, declared = nil, nil, 0
	}
	n := 0
	curCase := ""
	conns := map[string]int{}
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if m := caseRe.FindStringSubmatch(line); m != nil {
			flush()
			curCase = m[1]
			continue
		}
		if m := connRe.FindStringSubmatch(line); m != nil {
			flush()
			conns[m[1]+" "+m[2]]++
			continue
		}
		if m := payRe.FindStringSubmatch(line); m != nil {
			if cur != nil && m[1] == cur.Who && m[2] == cur.Channel && declared >= 0 {
				payLines = append(payLines, m[3])
			}
			continue
		}
		m := cmdRe.FindStringSubmatch(line)
		if m == nil || m[2] == "HTTP" {
			continue
		}
		flush()
		e := Entry{Who: m[1], Channel: m[2], Line: m[4], LineNo: n, Case: curCase, ConnSeq: conns[m[1]+" "+m[2]]}
		if m[3] == ">>>" {
			e.Dir = ClientToServer
		} else {
			e.Dir = ServerToClient
		}
		dir := wire.FromServer
		if e.Dir == ClientToServer {
			dir = wire.FromClient
		}
		if _, plen, err := wire.ParseLine(e.Line, dir); err == nil && plen >= 0 {
			declared = plen
			e.Payload = []byte{}
		} else {
			declared = -1
		}
		cur = &e
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("transcript: read: %w", err)
	}
	return t, nil
}

// rebuild joins shown payload lines with CRLF; a trailing "[trimmed, N bytes total]" marker is
// removed and the payload flagged as trimmed.
func rebuild(lines []string, declared int, trimmed *bool) []byte {
	last := lines[len(lines)-1]
	if m := trimRe.FindStringSubmatchIndex(last); m != nil {
		lines = append(append([]string{}, lines[:len(lines)-1]...), last[:m[0]])
		*trimmed = true
	}
	s := strings.Join(lines, "\r\n")
	if !*trimmed && len(s)+2 == declared {
		s += "\r\n"
	}
	return []byte(s)
}

// ParseFile parses the transcript at path.
func ParseFile(path string) (*Transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Conn returns the commands of one connection (participant and channel), in order.
func (t *Transcript) Conn(who, channel string) []Entry {
	var out []Entry
	for _, e := range t.Entries {
		if e.Who == who && e.Channel == channel {
			out = append(out, e)
		}
	}
	return out
}

// Connections returns the commands of each TCP connection of a participant and channel,
// in order; caseName "" takes every case.
func (t *Transcript) Connections(caseName, who, channel string) [][]Entry {
	var out [][]Entry
	last := -1
	for _, e := range t.Entries {
		if e.Who != who || e.Channel != channel || (caseName != "" && e.Case != caseName) {
			continue
		}
		if len(out) == 0 || e.ConnSeq != last {
			out = append(out, nil)
			last = e.ConnSeq
		}
		out[len(out)-1] = append(out[len(out)-1], e)
	}
	return out
}

// EnvDir names the environment variable that points at the transcripts directory when the
// checkout does not sit beside the shared reference material.
const EnvDir = "MSNP_TRANSCRIPTS"

// Dir locates the shared transcripts directory: $MSNP_TRANSCRIPTS when set (it must exist),
// else <repo root>/../shared/msnp/transcripts, where the repo root is the nearest ancestor of
// the working directory holding go.mod. Without either, the error wraps os.ErrNotExist and the
// replay tests skip.
func Dir() (string, error) {
	if p := os.Getenv(EnvDir); p != "" {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			// Not os.ErrNotExist: a wrong explicit setting must fail the tests, not skip them.
			return "", fmt.Errorf("transcript: $%s=%s is not a directory", EnvDir, p)
		}
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "msnp", "transcripts")
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return p, nil
			}
			return "", fmt.Errorf("transcript: %s not found: %w", p, os.ErrNotExist)
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("transcript: no go.mod above %s: %w", wd, os.ErrNotExist)
		}
	}
}

// Load parses a named transcript file ("transcript_msnp8.txt") from [Dir].
func Load(name string) (*Transcript, error) {
	d, err := Dir()
	if err != nil {
		return nil, err
	}
	return ParseFile(filepath.Join(d, name))
}
