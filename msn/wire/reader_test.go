package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseServerCommands(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantName string
		wantTrID uint32
		hasTrID  bool
		args     []string
		payload  string
		hasPay   bool
	}{
		{"ver", "VER 1 MSNP18\r\n", "VER", 1, true, []string{"MSNP18"}, "", false},
		{"usr ok", "USR 5 OK bob@example.com bob@example.com 1\r\n", "USR", 5, true, []string{"OK", "bob@example.com", "bob@example.com", "1"}, "", false},
		{"nln no trid", "NLN NLN alice@example.com alice%20x\r\n", "NLN", 0, false, []string{"NLN", "alice@example.com", "alice%20x"}, "", false},
		{"iln trid", "ILN 7 NLN bob@example.com bob@example.com\r\n", "ILN", 7, true, []string{"NLN", "bob@example.com", "bob@example.com"}, "", false},
		{"msg ns", "MSG Hotmail Hotmail 5\r\nhello", "MSG", 0, false, []string{"Hotmail", "Hotmail"}, "hello", true},
		{"msg sb", "MSG alice@example.com Alice 3\r\nabc", "MSG", 0, false, []string{"alice@example.com", "Alice"}, "abc", true},
		{"gcf 0", "GCF 0 4\r\n<a/>", "GCF", 0, true, nil, "<a/>", true},
		{"ubx empty", "UBX 1:bob@example.com 0\r\n", "UBX", 0, false, []string{"1:bob@example.com"}, "", true},
		{"ubx 16", "UBX bob@example.com 1 2\r\nxy", "UBX", 0, false, []string{"bob@example.com", "1"}, "xy", true},
		{"adl ok", "ADL 9 OK\r\n", "ADL", 9, true, []string{"OK"}, "", false},
		{"adl 0 payload", "ADL 0 3\r\n<a>", "ADL", 0, true, nil, "<a>", true},
		{"error plain", "911 4\r\n", "911", 4, true, nil, "", false},
		{"error payload", "241 6 2\r\nxx", "241", 6, true, nil, "xx", true},
		{"qng", "QNG 60\r\n", "QNG", 0, false, []string{"60"}, "", false},
		{"qng bare", "QNG\r\n", "QNG", 0, false, nil, "", false},
		{"out oth", "OUT OTH\r\n", "OUT", 0, false, []string{"OTH"}, "", false},
		{"chl", "CHL 0 15570131571988941333\r\n", "CHL", 0, true, []string{"15570131571988941333"}, "", false},
		{"not", "NOT 2\r\nab", "NOT", 0, false, nil, "ab", true},
		{"ubn", "UBN bob@example.com 1 2\r\nab", "UBN", 0, false, []string{"bob@example.com", "1"}, "ab", true},
		{"lst msnp8", "LST bob@example.com Bob 11 0\r\n", "LST", 0, false, []string{"bob@example.com", "Bob", "11", "0"}, "", false},
		{"bare lf", "ACK 3\n", "ACK", 3, true, nil, "", false},
		{"rng", "RNG 123 127.0.0.1:1864 CKI abc alice@x Alice\r\n", "RNG", 0, false, []string{"123", "127.0.0.1:1864", "CKI", "abc", "alice@x", "Alice"}, "", false},
		{"gcf request echo", "GCF 3 Shields.xml 2\r\nab", "GCF", 3, true, []string{"Shields.xml"}, "ab", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in), FromServer, Limits{})
			c, err := r.ReadCommand()
			if err != nil {
				t.Fatalf("ReadCommand: %v", err)
			}
			if c.Name != tc.wantName || c.TrID != tc.wantTrID || c.HasTrID != tc.hasTrID {
				t.Fatalf("got %s trid=%d has=%v, want %s %d %v", c.Name, c.TrID, c.HasTrID, tc.wantName, tc.wantTrID, tc.hasTrID)
			}
			if strings.Join(c.Args, "|") != strings.Join(tc.args, "|") {
				t.Fatalf("args %q, want %q", c.Args, tc.args)
			}
			if c.HasPayload != tc.hasPay || string(c.Payload) != tc.payload {
				t.Fatalf("payload %q (%v), want %q (%v)", c.Payload, c.HasPayload, tc.payload, tc.hasPay)
			}
			if _, err := r.ReadCommand(); !errors.Is(err, io.EOF) {
				t.Fatalf("expected EOF after the command, got %v", err)
			}
		})
	}
}

func TestParseClientCommands(t *testing.T) {
	r := NewReader(strings.NewReader("PNG\r\nMSG 4 A 2\r\nhiUUX 5 0\r\nOUT\r\nQRY 6 PROD0090YUAUV{2B 32\r\n0123456789abcdef0123456789abcdef"), FromClient, Limits{})
	want := []string{"PNG", "MSG 4 A [2 bytes]", "UUX 5 [0 bytes]", "OUT", "QRY 6 PROD0090YUAUV{2B [32 bytes]"}
	for _, w := range want {
		c, err := r.ReadCommand()
		if err != nil {
			t.Fatalf("ReadCommand: %v", err)
		}
		if c.String() != w {
			t.Fatalf("got %q, want %q", c.String(), w)
		}
	}
	if _, err := NewReader(strings.NewReader("USR x MD5 I a@b\r\n"), FromClient, Limits{}).ReadCommand(); err == nil {
		t.Fatal("non-numeric client TrID accepted")
	}
}

func TestBounds(t *testing.T) {
	lim := Limits{MaxLine: 32, MaxPayload: 10}
	cases := map[string]string{
		"long line":       "VER 1 " + strings.Repeat("A", 100) + "\r\n",
		"long payload":    "MSG a b 11\r\n01234567890",
		"huge payload":    "MSG a b 99999999999999999999\r\n",
		"negative length": "MSG a b -1\r\n",
		"bad length":      "MSG a b x\r\n",
		"short payload":   "MSG a b 5\r\nab",
		"bad code":        "VERSION 1\r\n",
		"cut line":        "VER 1 MSNP8",
		// A TrID past 2^32-1 would be read as an argument: here as GCF's payload length.
		"trid out of range": "GCF 00000000000\r\n",
		"trid over 2^32":    "ADL 4294967296 5\r\n<ml/>",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(in), FromServer, lim).ReadCommand()
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("want *ProtocolError, got %v", err)
			}
		})
	}
}

// TestLongNumberWhereTrIDMayBe: a server command without a TrID whose first argument is a long
// number keeps it as an argument: MSNP10-12's "LSG <name> <guid>" for a group named with
// digits (its TrID-less form is parsed back by package ns).
func TestLongNumberWhereTrIDMayBe(t *testing.T) {
	for _, line := range []string{"LSG 12345678901 2c9c8d3a-0e2f-4e8b-b3a5-3a8b1c7e9f10", "LSG 4294967296 g1"} {
		cmd, err := NewReader(strings.NewReader(line+"\r\n"), FromServer, Limits{}).ReadCommand()
		if err != nil || cmd.HasTrID || len(cmd.Args) != 2 || cmd.Args[0] != strings.Fields(line)[1] {
			t.Errorf("%q: %v %v", line, cmd, err)
		}
		if want, _, err := ParseLine(line, FromServer); err != nil || want.HasTrID || !slices.Equal(want.Args, cmd.Args) {
			t.Errorf("%q: ParseLine gives %v %v", line, want, err)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	cmds := []*Command{
		New("VER", 1, "MSNP18", "CVR0"),
		NewNoTrID("PNG"),
		NewPayload("MSG", 3, []byte("MIME-Version: 1.0\r\n\r\nhi"), "A"),
		NewPayload("UUX", 9, nil),
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, c := range cmds {
		if err := w.WriteCommand(c); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(buf.String(), "VER 1 MSNP18 CVR0\r\nPNG\r\nMSG 3 A 23\r\nMIME") {
		t.Fatalf("unexpected encoding %q", buf.String())
	}
	r := NewReader(&buf, FromClient, Limits{})
	for _, want := range cmds {
		got, err := r.ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != want.Name || got.TrID != want.TrID || string(got.Payload) != string(want.Payload) || got.HasPayload != (want.Payload != nil || want.HasPayload) {
			t.Fatalf("round trip: got %v, want %v", got, want)
		}
	}
}

func TestStringMasksSecrets(t *testing.T) {
	cases := []*Command{
		New("USR", 4, "SSO", "S", "t=secretticket&p=", "BLOBSECRET", "{GUID}"),
		New("USR", 5, "MD5", "S", "6f3963009fc8a9d2b2ff137da0905c55"),
		New("USR", 1, "alice@example.com", "cookiesecret"),
		New("ANS", 1, "bob@example.com", "cookiesecret", "12345"),
		New("XFR", 8, "SB", "127.0.0.1:1864", "CKI", "cookiesecret"),
		NewNoTrID("RNG", "123", "127.0.0.1:1864", "CKI", "cookiesecret", "a@b", "A"),
	}
	for _, c := range cases {
		s := c.String()
		for _, secret := range []string{"secretticket", "BLOBSECRET", "6f3963009fc8", "cookiesecret"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s leaks %q", s, secret)
			}
		}
	}
	if s := New("USR", 3, "SSO", "I", "bob@example.com").String(); s != "USR 3 SSO I bob@example.com" {
		t.Errorf("non-secret USR masked: %q", s)
	}
}

func TestServerError(t *testing.T) {
	c, _, err := ParseLine("217 5", FromServer)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Err()
	if ErrorCode(e) != ErrPrincipalOffline || !errors.Is(e, &ServerError{Code: 217}) || errors.Is(e, &ServerError{Code: 911}) {
		t.Fatalf("bad error mapping: %v", e)
	}
	if !strings.Contains(e.Error(), "offline") {
		t.Fatalf("error text lacks meaning: %v", e)
	}
	if ErrorText(1) != "unknown error" {
		t.Fatal("unknown code text")
	}
}

func TestParamCodec(t *testing.T) {
	for _, s := range []string{"Alice Nickname", "100% ünïcødé 😀", "a\r\nb", "plain", "%41"} {
		enc := EncodeParam(s)
		if strings.ContainsAny(enc, " \r\n") {
			t.Errorf("EncodeParam(%q) = %q keeps separators", s, enc)
		}
		if dec := DecodeParam(enc); dec != s {
			t.Errorf("round trip %q → %q → %q", s, enc, dec)
		}
	}
	for in, want := range map[string]string{"a%20b": "a b", "100%": "100%", "%zz": "%zz", "%E2%82%AC": "€", "a+b": "a+b", "%ff": "\uFFFD"} {
		if got := DecodeParam(in); got != want {
			t.Errorf("DecodeParam(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterRefusesInjection(t *testing.T) {
	for _, c := range []*Command{
		New("PRP", 1, "MFN", "Evil\r\nOUT"),
		New("ADC", 2, "FL", "N=a@b.c F=x"),
		New("XFR\r\nOUT", 3, "SB"),
		NewNoTrID("OUT\n"),
	} {
		var buf bytes.Buffer
		err := NewWriter(&buf).WriteCommand(c)
		var pe *ProtocolError
		if !errors.As(err, &pe) || buf.Len() != 0 {
			t.Errorf("%q: err %v, wrote %q", c.Name, err, buf.String())
		}
	}
	var buf bytes.Buffer
	if err := NewWriter(&buf).WriteCommand(New("PRP", 1, "MFN", EncodeParam("Evil\r\nOUT me"))); err != nil || buf.String() != "PRP 1 MFN Evil%0D%0AOUT%20me\r\n" {
		t.Errorf("encoded argument: %v %q", err, buf.String())
	}
}

// TestReaderManyArgsAndLongLines covers the paths off the one-allocation fast path: a line with
// more arguments than fit in stack space, a line longer than the initial buffer, and a payload
// larger than the biggest command block; then the buffer is small again.
func TestReaderManyArgsAndLongLines(t *testing.T) {
	many := "CVR 3 " + strings.Repeat("x ", 40) + "y\r\n"
	long := "NLN NLN 1:a@b.c " + strings.Repeat("n", 3000) + " 0\r\n"
	big := strings.Repeat("p", 5000)
	in := many + long + "MSG a@b.c A " + strconv.Itoa(len(big)) + "\r\n" + big + "QNG 50\r\n"
	r := NewReader(strings.NewReader(in), FromServer, Limits{})
	c, err := r.ReadCommand()
	if err != nil || c.Name != "CVR" || c.TrID != 3 || len(c.Args) != 41 || c.Args[40] != "y" {
		t.Fatalf("many args: %v %v", c, err)
	}
	if c, err = r.ReadCommand(); err != nil || c.Name != "NLN" || len(c.Arg(2)) != 3000 {
		t.Fatalf("long line: %v %v", c, err)
	}
	if len(r.buf) <= initialBuffer {
		t.Fatalf("buffer did not grow for a long line: %d", len(r.buf))
	}
	if c, err = r.ReadCommand(); err != nil || string(c.Payload) != big || c.Arg(1) != "A" {
		t.Fatalf("big payload: %v %v", c, err)
	}
	if c, err = r.ReadCommand(); err != nil || c.Name != "QNG" || c.Arg(0) != "50" {
		t.Fatalf("after: %v %v", c, err)
	}
	if len(r.buf) > initialBuffer {
		t.Fatalf("buffer stayed at %d bytes after the long line, want ≤ %d", len(r.buf), initialBuffer)
	}
	if _, err = r.ReadCommand(); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v", err)
	}
}

// TestReaderArgsOwnTheirBytes: arguments and payloads of a command stay intact after the reader
// has read (and overwritten its buffer with) many more commands.
func TestReaderArgsOwnTheirBytes(t *testing.T) {
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, "MSG u%d@x.y Name%d 5\r\nbody%d", i, i, i%10)
	}
	r := NewReader(strings.NewReader(in.String()), FromServer, Limits{})
	var cmds []*Command
	for {
		c, err := r.ReadCommand()
		if err != nil {
			break
		}
		cmds = append(cmds, c)
	}
	if len(cmds) != 200 {
		t.Fatalf("read %d commands, want 200", len(cmds))
	}
	for i, c := range cmds {
		if c.Arg(0) != fmt.Sprintf("u%d@x.y", i) || c.Arg(1) != fmt.Sprintf("Name%d", i) || string(c.Payload) != fmt.Sprintf("body%d", i%10) {
			t.Fatalf("command %d changed: %v %q", i, c, c.Payload)
		}
	}
}

// timeoutOnce fails its first Read with a timeout, then reads from r.
type timeoutOnce struct {
	r    io.Reader
	done bool
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }

func (t *timeoutOnce) Read(p []byte) (int, error) {
	if !t.done {
		t.done = true
		return 0, timeoutErr{}
	}
	return t.r.Read(p)
}

// TestReaderResumesAfterError: a read error (a read deadline passing) is reported once; the
// next ReadCommand reads on, as with bufio.
func TestReaderResumesAfterError(t *testing.T) {
	r := NewReader(&timeoutOnce{r: strings.NewReader("QNG 50\r\n")}, FromServer, Limits{})
	if _, err := r.ReadCommand(); !errors.As(err, new(timeoutErr)) {
		t.Fatalf("first read: %v, want the timeout", err)
	}
	if c, err := r.ReadCommand(); err != nil || c.Name != "QNG" {
		t.Fatalf("after the timeout: %v %v", c, err)
	}
}

// TestWriterKeeping: a Writer made with NewWriterKeeping lets go of the buffer of a command
// longer than its bound once it is written, and keeps a short command's; a plain Writer keeps
// whatever it grew to. Both write every command whole.
func TestWriterKeeping(t *testing.T) {
	long := NewPayload("ADL", 7, bytes.Repeat([]byte("x"), 2000))
	short := NewNoTrID("PNG")
	var out bytes.Buffer
	kept := NewWriterKeeping(&out, 256)
	if err := kept.WriteCommand(long); err != nil {
		t.Fatal(err)
	}
	if c := kept.buf.Cap(); c > 256 {
		t.Fatalf("after a long command the keeping writer holds %d bytes", c)
	}
	if err := kept.WriteCommand(short); err != nil {
		t.Fatal(err)
	}
	if c := kept.buf.Cap(); c == 0 || c > 256 {
		t.Fatalf("after a short command the keeping writer holds %d bytes, want its small buffer", c)
	}
	if want := string(long.Encode()) + string(short.Encode()); out.String() != want {
		t.Fatalf("wrote %q, want %q", out.String(), want)
	}
	plain := NewWriter(io.Discard)
	if err := plain.WriteCommand(long); err != nil {
		t.Fatal(err)
	}
	if c := plain.buf.Cap(); c < 2000 {
		t.Fatalf("a plain writer holds %d bytes after a 2000-byte command, want it kept", c)
	}
}
