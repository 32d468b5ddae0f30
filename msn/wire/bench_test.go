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

// decodeSample is one command as the server sends it.
type decodeSample struct {
	name string
	data []byte
}

// decodeSamples are an NS presence line (with and without a display picture), a text MSG, a
// personal-message UBX and an initial-list-sized ADL.
func decodeSamples() []decodeSample {
	adl := "<ml l=\"1\"><d n=\"example.com\">" + strings.Repeat(`<c n="someone" l="3" t="1"/>`, 260) + "</d></ml>"
	return []decodeSample{
		{"NLN", []byte("NLN NLN 1:alice@example.com Alice%20Smith 2788999212:48 0\r\n")},
		// With a display picture, as most MSNP18 contacts send it.
		{"NLN-msnobj", []byte("NLN NLN 1:alice@example.com Alice%20Smith 2788999212:48 %3Cmsnobj%20Creator%3D%22alice%40example.com%22%20Size%3D%2224539%22%20Type%3D%223%22%20Location%3D%22TFR2C2.tmp%22%20Friendly%3D%22AAA%3D%22%20SHA1D%3D%22trC8SlFx2sWQxZMIBAWSEnXc8oQ%3D%22%20SHA1C%3D%22U3gZ4KXl%2FK8trsi3lHMYyOxTHFE%3D%22%2F%3E\r\n")},
		{"MSG", NewPayloadNoTrID("MSG", benchMSG.Payload, "alice@example.com", "Alice").Encode()},
		{"UBX", NewPayloadNoTrID("UBX", []byte(`<Data><PSM>Listening to the radio</PSM><CurrentMedia></CurrentMedia><MachineGuid>{F26D1F07-95E2-403C-BC18-D4BFED493428}</MachineGuid><DDP></DDP><SignatureSound></SignatureSound><Scene></Scene><ColorScheme>-3</ColorScheme></Data>`), "1:alice@example.com").Encode()},
		{"ADL", NewPayload("ADL", 0, []byte(adl)).Encode()},
	}
}

// rereader reads the same command again and again: read returns the next parse of data.
func rereader(data []byte) (read func() (*Command, error)) {
	rd := bytes.NewReader(data)
	r := NewReader(rd, FromServer, Limits{})
	return func() (*Command, error) {
		rd.Reset(data)
		r.r, r.w, r.scan, r.err = 0, 0, 0, nil
		return r.ReadCommand()
	}
}

// BenchmarkDecodeCommand measures parsing one command per op, so that allocs/op is the
// allocations per command (MSG, NLN and UBX must stay at ≥ 500 MB/s and ≤ 1 allocation).
func BenchmarkDecodeCommand(b *testing.B) {
	for _, bc := range decodeSamples() {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			read := rereader(bc.data)
			for b.Loop() {
				if _, err := read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

// streamReader serves data again and again, in reads of whatever size the caller asks, as a
// socket holding a burst of commands does.
type streamReader struct {
	data []byte
	off  int
}

func (s *streamReader) Read(p []byte) (int, error) {
	n := copy(p, s.data[s.off:])
	s.off = (s.off + n) % len(s.data)
	return n, nil
}

// BenchmarkDecodeStream measures parsing a stream of the same command (an ILN/NLN burst at
// login, a busy conversation), read through the Reader's own buffer: one command per op.
func BenchmarkDecodeStream(b *testing.B) {
	for _, bc := range decodeSamples() {
		if len(bc.data) > 2048 {
			continue // the initial ADL comes alone
		}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			r := NewReader(&streamReader{data: bytes.Repeat(bc.data, 64)}, FromServer, Limits{})
			for b.Loop() {
				if _, err := r.ReadCommand(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// blockSink keeps the benchmarked blocks from being optimised away.
var blockSink *Command

// BenchmarkCommandBlockNLN measures the allocation alone of the block a 59-byte NLN decodes
// into (5 arguments, 56 bytes), at the NLN's bytes per op: the floor of BenchmarkDecodeCommand/NLN
// under the Command type as it is (a 72-byte Command, a string header per argument).
func BenchmarkCommandBlockNLN(b *testing.B) {
	b.SetBytes(59)
	b.ReportAllocs()
	for b.Loop() {
		blockSink, _, _ = newCommandBlock(5, 56)
	}
}
