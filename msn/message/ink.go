package message

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/gif"
)

// MaxInkBytes bounds the decoded GIF of one ink message. Real drawings are a few kilobytes;
// the switchboard's chunk reassembly bounds the encoded body well below this anyway.
const MaxInkBytes = 1 << 20

// inkPrefix starts the body of the ink messages real clients send ("base64:R0lGOD…").
const inkPrefix = "base64:"

// Ink is a handwritten message sent as a GIF image (image/gif, FACTS §7.10; only sent to
// clients advertising capability 0x04). Chunked ink arrives as several messages: each chunk
// is classified KindInk with a nil Message.Ink, and the [Reassembler] classifies the joined
// message again, which then carries the Ink.
type Ink struct {
	// GIF is the decoded image; nil when Err is set.
	GIF []byte
	// Width and Height are the image's dimensions from its GIF header.
	Width, Height int
	// Err says why the body is not a usable GIF: bad base64, over [MaxInkBytes], not a GIF.
	// It wraps [ErrMalformed] or [ErrTooLarge].
	Err error
}

// DecodeInk decodes an image/gif ink body: base64 (with or without the "base64:" prefix,
// padding, line breaks or trailing NULs) of a GIF image of at most MaxInkBytes.
func DecodeInk(body []byte) (gifData []byte, width, height int, err error) {
	b := bytes.TrimSpace(bytes.TrimRight(body, "\x00"))
	if len(b) >= len(inkPrefix) && bytes.EqualFold(b[:len(inkPrefix)], []byte(inkPrefix)) {
		b = b[len(inkPrefix):]
	}
	// Drop line breaks, spaces and padding: clients differ, the data does not.
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch c {
		case '\r', '\n', ' ', '\t', '=':
		default:
			clean = append(clean, c)
		}
	}
	if len(clean) == 0 {
		return nil, 0, 0, fmt.Errorf("%w: empty ink body", ErrMalformed)
	}
	if n := base64.RawStdEncoding.DecodedLen(len(clean)); n > MaxInkBytes {
		return nil, 0, 0, fmt.Errorf("%w: ink image of %d bytes (max %d)", ErrTooLarge, n, MaxInkBytes)
	}
	data := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(data, clean)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: ink body is not base64: %v", ErrMalformed, err)
	}
	data = data[:n]
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: ink body is not a GIF image: %v", ErrMalformed, err)
	}
	return data, cfg.Width, cfg.Height, nil
}

func decodeInk(body []byte) *Ink {
	data, w, h, err := DecodeInk(body)
	if err != nil {
		return &Ink{Err: err}
	}
	return &Ink{GIF: data, Width: w, Height: h}
}

// isChunkPart reports whether m is one chunk of a chunked message (Message-ID with a Chunks
// or Chunk header), whose body alone means nothing.
func (m *Message) isChunkPart() bool {
	if m.Headers.Get(HeaderMessageID) == "" {
		return false
	}
	_, first := m.Headers.Lookup(HeaderChunks)
	_, later := m.Headers.Lookup(HeaderChunk)
	return first || later
}
