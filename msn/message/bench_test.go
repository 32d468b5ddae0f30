package message

import (
	"bytes"
	"testing"

	"github.com/msnbridge/msnbridge/msn/wire"
)

const benchText = "Hello Bob, this is Alice via Escargot! Ünïcødé and emoji 😀 in a normal-sized chat line."

func BenchmarkEncodeText(b *testing.B) {
	f := DefaultFormat
	n := len(wire.NewPayload("MSG", 4, TextPayload(benchText, f), "N").Encode())
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		cmd := wire.NewPayload("MSG", 4, TextPayload(benchText, f), "N")
		if len(cmd.Encode()) != n {
			b.Fatal("size changed")
		}
	}
}

func BenchmarkDecodeText(b *testing.B) {
	raw := wire.NewPayloadNoTrID("MSG", TextPayload(benchText, DefaultFormat), "alice@example.com", "Alice%20(probe)").Encode()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		i := bytes.Index(raw, []byte("\r\n"))
		cmd, plen, err := wire.ParseLine(string(raw[:i]), wire.FromServer)
		if err != nil || plen != len(raw)-i-2 {
			b.Fatal(err, plen)
		}
		m, err := Parse(raw[i+2:])
		if err != nil || m.Kind != KindText || cmd.Arg(0) != "alice@example.com" {
			b.Fatal(err)
		}
	}
}
