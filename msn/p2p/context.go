package p2p

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// fileContextSize is the fixed part of a file-transfer Context (FACTS §9.2): length, version,
// size, type, 520 bytes of UTF-16LE name, 30 bytes, 0xFFFFFFFF.
const fileContextSize = 574

// FileInfo is what a file-transfer invitation says about the file.
type FileInfo struct {
	Name string // as the sender named it, without any path
	Size uint64 // bytes
	// Preview is the preview image after the fixed part of the context (type 0 with a
	// declared length over 574 bytes), nil when there is none. Never sent by OfferFile.
	Preview []byte
}

// encodeFileContext is FileContext.
func encodeFileContext(fi FileInfo) string {
	raw := make([]byte, fileContextSize)
	le := binary.LittleEndian
	le.PutUint32(raw[0:], fileContextSize)
	le.PutUint32(raw[4:], 2)
	le.PutUint64(raw[8:], fi.Size)
	units := utf16.Encode([]rune(fi.Name))
	if len(units) > 259 {
		units = units[:259]
	}
	for i, u := range units {
		le.PutUint16(raw[20+2*i:], u)
	}
	le.PutUint32(raw[570:], 0xFFFFFFFF)
	return base64.StdEncoding.EncodeToString(raw)
}

// ParseFileContext decodes the base64 Context field of a file-transfer INVITE. It accepts any
// declared length of at least 574 bytes (versions 2 and 3; a preview may follow).
func ParseFileContext(b64 string) (FileInfo, error) {
	b64 = strings.TrimSpace(b64)
	if len(b64) > MaxSLPSize {
		return FileInfo{}, fmt.Errorf("%w: file context of %d bytes", ErrTooLarge, len(b64))
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return FileInfo{}, fmt.Errorf("%w: file context: %w", ErrMalformed, err)
	}
	if len(raw) < fileContextSize {
		return FileInfo{}, fmt.Errorf("%w: file context of %d bytes (at least %d)", ErrMalformed, len(raw), fileContextSize)
	}
	le := binary.LittleEndian
	if n := le.Uint32(raw[0:]); n < fileContextSize {
		return FileInfo{}, fmt.Errorf("%w: file context declares %d bytes", ErrMalformed, n)
	}
	units := make([]uint16, 0, 260)
	for i := 20; i+1 < 540; i += 2 {
		u := le.Uint16(raw[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	fi := FileInfo{Name: pathBase(dropControl(string(utf16.Decode(units)))), Size: le.Uint64(raw[8:])}
	if n := int(min(le.Uint32(raw[0:]), uint32(len(raw)))); le.Uint32(raw[16:]) == 0 && n > fileContextSize {
		fi.Preview = append([]byte(nil), raw[fileContextSize:n]...)
	}
	return fi, nil
}

// FileOffer returns the file of a file-transfer INVITE (ok false for any other message).
func FileOffer(m *SLPMessage) (FileInfo, bool) {
	if m == nil || m.Method != "INVITE" {
		return FileInfo{}, false
	}
	fs := m.BodyFields()
	if !strings.EqualFold(fs.Get("EUF-GUID"), EUFGUIDFileTransfer) {
		return FileInfo{}, false
	}
	fi, err := ParseFileContext(fs.Get("Context"))
	if err != nil {
		return FileInfo{}, true
	}
	return fi, true
}

// FileOfferIn returns the file offered by the SLP INVITE in one P2P frame (the first chunk of
// an INVITE split over several carries the body's start, and usually the whole Context);
// ok is false when the frame holds no file-transfer INVITE. For notices: it never errors.
func FileOfferIn(frame []byte) (FileInfo, bool) {
	p, err := ParsePacket(frame)
	if err != nil || p.Header.SessionID != 0 || p.Header.Offset != 0 {
		return FileInfo{}, false
	}
	data := p.Data
	if !p.Header.IsLastChunk() {
		// Only the start of the INVITE: cut the declared body to what is here.
		if m, err := parseSLPPrefix(data); err == nil {
			return FileOffer(m)
		}
		return FileInfo{}, false
	}
	m, err := ParseSLP(data)
	if err != nil {
		return FileInfo{}, false
	}
	return FileOffer(m)
}

// parseSLPPrefix parses the first chunk of a split SLP message: the body is whatever follows
// the headers.
func parseSLPPrefix(b []byte) (*SLPMessage, error) {
	i := strings.Index(string(b), "\r\n\r\n")
	if i < 0 {
		return nil, ErrMalformed
	}
	head := string(b[:i+4])
	var kept []string
	for _, line := range strings.Split(head, "\r\n") {
		if !strings.HasPrefix(strings.ToLower(line), "content-length:") {
			kept = append(kept, line)
		}
	}
	return ParseSLP(append([]byte(strings.Join(kept, "\r\n")), b[i+4:]...))
}
