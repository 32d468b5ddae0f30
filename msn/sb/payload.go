package sb

import "github.com/msnbridge/msnbridge/msn/message"

// splitTextPayloads builds the text MSG payloads for text, each at most MaxPayload bytes, cut
// on character boundaries (message.SplitTextPayload).
func splitTextPayloads(text string, f message.Format) [][]byte {
	pieces := message.SplitTextPayload(text, f, MaxPayload)
	out := make([][]byte, 0, len(pieces))
	for _, p := range pieces {
		out = append(out, message.TextPayload(p, f))
	}
	return out
}
