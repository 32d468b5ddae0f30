package sb

import (
	"strconv"
	"strings"

	"github.com/msnbridge/msnbridge/msn/message"
)

// capChunking is the client capability bit of peers that reassemble chunked messages
// (Message-ID / Chunks / Chunk, FACTS §5.3 and §7.2): WLM 8.x and later, msn-pecan,
// MSNPSharp.
const capChunking = 0x20

// parseCaps reads the capability number of a JOI/IRO line: "1342472228" (MSNP12-15) or
// "caps:capsex" (MSNP16+). ok is false when there is none or it is not a number.
func parseCaps(s string) (caps uint32, ok bool) {
	s, _, _ = strings.Cut(s, ":")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// splitTextPayloads builds the text MSG payloads for text, each at most MaxPayload bytes, cut
// on character boundaries (message.SplitTextPayload), and the piece of text each carries.
func splitTextPayloads(text string, f message.Format) ([][]byte, []string) {
	pieces := message.SplitTextPayload(text, f, MaxPayload)
	out := make([][]byte, 0, len(pieces))
	for _, p := range pieces {
		out = append(out, message.TextPayload(p, f))
	}
	return out, pieces
}
