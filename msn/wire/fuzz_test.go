package wire

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzReadCommand feeds arbitrary bytes to both readers: they must never panic, never return
// a payload over the limit, and every command they return must re-encode to something the same
// reader parses back identically.
func FuzzReadCommand(f *testing.F) {
	f.Add([]byte("VER 1 MSNP18\r\nMSG Hotmail Hotmail 2\r\nhiUBX 1:a@b 0\r\n"), false)
	f.Add([]byte("241 6 2\r\nxxQNG 60\r\nOUT OTH\r\n"), false)
	f.Add([]byte("MSG 4 A 2\r\nhiPNG\r\n"), true)
	lim := Limits{MaxLine: 256, MaxPayload: 512}
	f.Fuzz(func(t *testing.T, data []byte, client bool) {
		dir := FromServer
		if client {
			dir = FromClient
		}
		r := NewReader(bytes.NewReader(data), dir, lim)
		for i := 0; i < 64; i++ {
			c, err := r.ReadCommand()
			if err != nil {
				var pe *ProtocolError
				if !errors.Is(err, io.EOF) && !errors.As(err, &pe) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if len(c.Payload) > lim.MaxPayload {
				t.Fatalf("payload over limit: %d", len(c.Payload))
			}
			again, err := NewReader(bytes.NewReader(c.Encode()), dir, Limits{}).ReadCommand()
			if err != nil {
				t.Fatalf("re-encoded %q does not parse: %v", c.Encode(), err)
			}
			if again.Name != c.Name || again.TrID != c.TrID || again.HasTrID != c.HasTrID || !bytes.Equal(again.Payload, c.Payload) || !slices.Equal(again.Args, c.Args) {
				t.Fatalf("round trip mismatch: %v vs %v", c, again)
			}
		}
	})
}

// FuzzReaderMatchesParseLine: the reader's in-place parse of a line (into one command block)
// gives what ParseLine, the plain field-by-field parser, gives for the same line: the same
// command or an error.
func FuzzReaderMatchesParseLine(f *testing.F) {
	f.Add("NLN NLN 1:alice@example.com Alice%20Smith 2788999212:48 0", false)
	f.Add("  ILN  7\tNLN  bob@x  Bob \r", false)
	f.Add("MSG 4 A 2", true)
	f.Add("241 6 2", false)
	f.Add("RNG 123 127.0.0.1:1864 CKI abc alice@x Alice U messenger.msn.com 1", false)
	f.Fuzz(func(t *testing.T, line string, client bool) {
		dir := FromServer
		if client {
			dir = FromClient
		}
		if strings.ContainsRune(line, '\n') || strings.Trim(line, "\r") == "" || len(line) > 512 {
			return // not one command line
		}
		want, plen, wantErr := ParseLine(strings.TrimRight(line, "\r"), dir)
		data := line + "\r\n"
		if wantErr == nil && plen > 0 {
			data += strings.Repeat("p", min(plen, 64))
		}
		// The line is read whole, with the next command behind it in the same buffer (fields
		// and line end found in one pass), and a byte at a time (the line end found first,
		// over many reads, and the line split after).
		data += "OUT OTH\r\n"
		for _, src := range []io.Reader{strings.NewReader(data), iotest.OneByteReader(strings.NewReader(data))} {
			r := NewReader(src, dir, Limits{MaxPayload: 64})
			got, err := r.ReadCommand()
			switch {
			case wantErr != nil || plen > 64:
				if err == nil {
					t.Fatalf("%q: the reader accepts %v, ParseLine says %v (payload %d)", line, got, wantErr, plen)
				}
				continue // and the other way of reading it
			case err != nil:
				t.Fatalf("%q: the reader fails (%v), ParseLine gives %v", line, err, want)
			}
			if got.Name != want.Name || got.TrID != want.TrID || got.HasTrID != want.HasTrID || !slices.Equal(got.Args, want.Args) ||
				got.HasPayload != (plen >= 0) || len(got.Payload) != max(plen, 0) || (got.Args == nil) != (want.Args == nil) {
				t.Fatalf("%q: the reader gives %v %q, ParseLine %v %q (payload %d)", line, got, got.Args, want, want.Args, plen)
			}
			if next, err := r.ReadCommand(); err != nil || next.Name != "OUT" || !slices.Equal(next.Args, []string{"OTH"}) {
				t.Fatalf("%q: the command after it reads as %v, %v", line, next, err)
			}
		}
	})
}

// TestReaderPartialLineAtEOF: a stream that ends in the middle of a command line is an
// unexpected EOF, even when all it has of the line is a CR; a stream that ends between
// commands is a clean EOF.
func TestReaderPartialLineAtEOF(t *testing.T) {
	for _, tc := range []struct {
		data  string
		clean bool
	}{
		{"PNG\r\n", true},
		{"PNG\r\nQNG 5", false},
		{"PNG\r\n\r", false},
		{"PNG\r\n\r\r", false},
	} {
		r := NewReader(strings.NewReader(tc.data), FromServer, Limits{})
		if _, err := r.ReadCommand(); err != nil {
			t.Fatalf("%q: first command: %v", tc.data, err)
		}
		_, err := r.ReadCommand()
		var pe *ProtocolError
		if tc.clean && err != io.EOF || !tc.clean && (!errors.As(err, &pe) || !errors.Is(err, io.ErrUnexpectedEOF)) {
			t.Errorf("%q: at the end: %v", tc.data, err)
		}
	}
}

// FuzzDecodeParam checks the tolerant URL decoder and the encoder agree.
func FuzzDecodeParam(f *testing.F) {
	f.Add("Alice%20Nick")
	f.Add("%E2%82%AC%zz%")
	f.Fuzz(func(t *testing.T, s string) {
		d := DecodeParam(s)
		if DecodeParam(EncodeParam(d)) != d {
			t.Fatalf("encode/decode not inverse for %q", d)
		}
	})
}
