package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
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
			if again.Name != c.Name || again.TrID != c.TrID || again.HasTrID != c.HasTrID || !bytes.Equal(again.Payload, c.Payload) || len(again.Args) != len(c.Args) {
				t.Fatalf("round trip mismatch: %v vs %v", c, again)
			}
		}
	})
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
