package wire

import (
	"bytes"
	"strings"
	"testing"
)

var benchMSG = NewPayload("MSG", 42, []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22\r\n\r\nHello there, how are you doing today?"), "A")

// BenchmarkEncodeCommand measures encoding a text MSG through a Writer.
func BenchmarkEncodeCommand(b *testing.B) {
	w := NewWriter(ioDiscard{})
	b.SetBytes(int64(len(benchMSG.Encode())))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteCommand(benchMSG); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCommand measures parsing one command per op, so that allocs/op is the
// allocations per command: an NS presence line, a text MSG and an initial-list-sized ADL.
func BenchmarkDecodeCommand(b *testing.B) {
	adl := "<ml l=\"1\"><d n=\"example.com\">" + strings.Repeat(`<c n="someone" l="3" t="1"/>`, 260) + "</d></ml>"
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"NLN", []byte("NLN NLN 1:alice@example.com Alice%20Smith 2788999212:48 0\r\n")},
		{"MSG", NewPayloadNoTrID("MSG", benchMSG.Payload, "alice@example.com", "Alice").Encode()},
		{"ADL", NewPayload("ADL", 0, []byte(adl)).Encode()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			rd := bytes.NewReader(bc.data)
			r := NewReader(rd, FromServer, Limits{})
			for b.Loop() {
				rd.Reset(bc.data)
				r.br.Reset(rd)
				if _, err := r.ReadCommand(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }
