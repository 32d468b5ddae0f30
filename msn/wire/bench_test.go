package wire

import (
	"bytes"
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

// BenchmarkDecodeCommand measures parsing a stream of NS presence lines and text MSGs.
func BenchmarkDecodeCommand(b *testing.B) {
	var stream bytes.Buffer
	stream.WriteString("NLN NLN 1:alice@example.com Alice%20Smith 2788999212:48 0\r\n")
	stream.Write(NewPayloadNoTrID("MSG", benchMSG.Payload, "alice@example.com", "Alice").Encode())
	data := stream.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rd := bytes.NewReader(data)
	r := NewReader(rd, FromServer, Limits{})
	for b.Loop() {
		rd.Reset(data)
		r.br.Reset(rd)
		for i := 0; i < 2; i++ {
			if _, err := r.ReadCommand(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }
