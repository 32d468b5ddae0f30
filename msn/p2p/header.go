package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Sizes of the P2Pv1 framing (FACTS §9.1).
const (
	HeaderSize = 48 // binary header
	FooterSize = 4  // big-endian application id after the data
	// MaxChunk is the most data bytes per switchboard MSG (pidgin, msn-pecan and MSNPSharp;
	// every captured chunk): header, data, footer and MIME headers stay under 1664 bytes.
	MaxChunk = 1202
	// MaxPacketData bounds MessageSize when parsing: a switchboard MSG is at most 1664 bytes
	// (more on a direct connection, which this package does not speak).
	MaxPacketData = 16 << 10
)

// Flags of the P2Pv1 header (FACTS §9.1).
const (
	FlagNone        uint32 = 0x0
	FlagNAK         uint32 = 0x1
	FlagAck         uint32 = 0x2
	FlagRequireAck  uint32 = 0x4
	FlagError       uint32 = 0x8
	FlagFile        uint32 = 0x10
	FlagObjectData  uint32 = 0x20
	FlagCloseSess   uint32 = 0x40
	FlagTLPError    uint32 = 0x80
	FlagDCHandshake uint32 = 0x100
	FlagSLPInfo     uint32 = 0x1000000 // "WLM 2009 compatibility": set on SLP by WLM 8.5+
	FlagWLMObject   uint32 = 0x1000020
	FlagWLMFile     uint32 = 0x1000030
)

// Errors of this package.
var (
	// ErrMalformed: the bytes are not a valid P2Pv1 packet or SLP message.
	ErrMalformed = errors.New("p2p: malformed")
	// ErrP2Pv2: the packet is P2Pv2 (WLM 2009 TLP/DLP framing), which this package does not
	// speak; it is refused rather than misread as P2Pv1.
	ErrP2Pv2 = errors.New("p2p: P2Pv2 packet (not supported; only P2Pv1 is spoken)")
	// ErrTooLarge: a size is over a bound of this package.
	ErrTooLarge = errors.New("p2p: too large")
)

// Header is the 48-byte P2Pv1 binary header; every field is little-endian on the wire.
type Header struct {
	SessionID   uint32 // 0 for MSNSLP messages; the negotiated session for data
	Identifier  uint32 // message id: the same for every chunk of one message
	Offset      uint64 // where this chunk's data starts in the whole message
	TotalSize   uint64 // size of the whole message
	MessageSize uint32 // data bytes in this chunk
	Flags       uint32
	AckID       uint32 // random on a normal message; on an ACK the acknowledged Identifier
	AckUID      uint32 // on an ACK the acknowledged message's AckID
	AckSize     uint64 // on an ACK the acknowledged TotalSize
}

// Append appends the 48 header bytes to b.
func (h *Header) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, h.SessionID)
	b = binary.LittleEndian.AppendUint32(b, h.Identifier)
	b = binary.LittleEndian.AppendUint64(b, h.Offset)
	b = binary.LittleEndian.AppendUint64(b, h.TotalSize)
	b = binary.LittleEndian.AppendUint32(b, h.MessageSize)
	b = binary.LittleEndian.AppendUint32(b, h.Flags)
	b = binary.LittleEndian.AppendUint32(b, h.AckID)
	b = binary.LittleEndian.AppendUint32(b, h.AckUID)
	return binary.LittleEndian.AppendUint64(b, h.AckSize)
}

// ParseHeader decodes the first 48 bytes of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, the P2Pv1 header has %d", ErrMalformed, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	return Header{
		SessionID: le.Uint32(b[0:]), Identifier: le.Uint32(b[4:]), Offset: le.Uint64(b[8:]),
		TotalSize: le.Uint64(b[16:]), MessageSize: le.Uint32(b[24:]), Flags: le.Uint32(b[28:]),
		AckID: le.Uint32(b[32:]), AckUID: le.Uint32(b[36:]), AckSize: le.Uint64(b[40:]),
	}, nil
}

// IsAck reports whether the header is a P2P acknowledgement.
func (h *Header) IsAck() bool {
	return h.Flags&FlagAck != 0 && h.Flags&FlagNAK == 0 && h.MessageSize == 0
}

// IsLastChunk reports whether this chunk ends its message (Offset + MessageSize == TotalSize).
func (h *Header) IsLastChunk() bool { return h.Offset+uint64(h.MessageSize) == h.TotalSize }

// Packet is one P2Pv1 frame: the body of an application/x-msnmsgrp2p switchboard message.
type Packet struct {
	Header Header
	Data   []byte // MessageSize bytes
	Footer uint32 // big-endian application id; never rely on it (transcripts/p2p finding 5)
}

// Bytes encodes the packet: header, data, footer. Header.MessageSize is taken from Data.
func (p *Packet) Bytes() []byte {
	h := p.Header
	h.MessageSize = uint32(len(p.Data))
	b := make([]byte, 0, HeaderSize+len(p.Data)+FooterSize)
	b = h.Append(b)
	b = append(b, p.Data...)
	return binary.BigEndian.AppendUint32(b, p.Footer)
}

// ParsePacket decodes a P2Pv1 frame, checking that its sizes agree with each other and with
// the bytes present. A P2Pv2 packet is ErrP2Pv2; anything else that does not fit is
// ErrMalformed. Data aliases b.
func ParsePacket(b []byte) (*Packet, error) {
	v1err := checkV1(b)
	if v1err != nil {
		if looksV2(b) {
			return nil, ErrP2Pv2
		}
		return nil, v1err
	}
	h, _ := ParseHeader(b)
	return &Packet{Header: h, Data: b[HeaderSize : HeaderSize+int(h.MessageSize)], Footer: binary.BigEndian.Uint32(b[len(b)-FooterSize:])}, nil
}

// ParseFrame decodes the body of a P2P switchboard message given its P2P-Dest and P2P-Src
// headers. Receivers tell the versions apart by those headers: a message whose P2P-Dest or
// P2P-Src names an endpoint ("email;{guid}") is P2Pv2 (P2PV2.md §1.2), unless its bytes are
// a valid P2Pv1 frame and cannot be a P2Pv2 one.
func ParseFrame(dest, src string, b []byte) (*Packet, error) {
	if (HasEndpoint(dest) || HasEndpoint(src)) && looksV2(b) {
		return nil, ErrP2Pv2
	}
	return ParsePacket(b)
}

func checkV1(b []byte) error {
	if len(b) < HeaderSize+FooterSize {
		return fmt.Errorf("%w: %d bytes, a P2Pv1 frame has at least %d", ErrMalformed, len(b), HeaderSize+FooterSize)
	}
	h, _ := ParseHeader(b)
	switch {
	case h.MessageSize > MaxPacketData:
		return fmt.Errorf("%w: chunk of %d bytes", ErrTooLarge, h.MessageSize)
	case uint64(len(b)) != uint64(HeaderSize)+uint64(h.MessageSize)+FooterSize:
		return fmt.Errorf("%w: MessageSize %d but %d data bytes", ErrMalformed, h.MessageSize, len(b)-HeaderSize-FooterSize)
	case h.Offset > h.TotalSize || uint64(h.MessageSize) > h.TotalSize-h.Offset:
		return fmt.Errorf("%w: chunk at %d+%d beyond TotalSize %d", ErrMalformed, h.Offset, h.MessageSize, h.TotalSize)
	}
	return nil
}

// looksV2 reports whether b is a well-formed P2Pv2 transport packet (P2PV2.md §3.1): a
// header length of 8…252 in steps of 4, an OpCode of SYN/RAK bits only, and a big-endian
// payload length that, with the header and the footer, is exactly the bytes present.
func looksV2(b []byte) bool {
	if len(b) < 8+FooterSize {
		return false
	}
	hl := int(b[0])
	if hl < 8 || hl > 252 || hl%4 != 0 || b[1]&^0x03 != 0 {
		return false
	}
	pl := int(binary.BigEndian.Uint16(b[2:]))
	return hl+pl+FooterSize == len(b)
}

// HasEndpoint reports whether addr names an MSNP16+ endpoint: "email;{guid}".
func HasEndpoint(addr string) bool {
	_, guid := SplitAddress(addr)
	return guid != ""
}

// SplitAddress splits "email;{guid}" (also "MSNMSGR:email;{guid}" or "<msnmsgr:email>") into
// the lower-case email and the lower-case "{guid}" ("" when absent).
func SplitAddress(addr string) (email, guid string) {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimPrefix(strings.TrimSuffix(addr, ">"), "<")
	if len(addr) >= 8 && strings.EqualFold(addr[:8], "msnmsgr:") {
		addr = addr[8:]
	}
	email, guid, _ = strings.Cut(addr, ";")
	return strings.ToLower(strings.TrimSpace(email)), strings.ToLower(strings.TrimSpace(guid))
}

// NewAck builds the acknowledgement of the message whose last chunk is h, as the captured
// clients send it (FACTS §9.1, transcripts/p2p finding 4): same SessionID, Identifier id (the
// acknowledger's next), TotalSize and AckSize = the acknowledged TotalSize, Flags ACK, AckID
// = the acknowledged Identifier, AckUID = its AckID, no data, footer 0.
func NewAck(h Header, id uint32) *Packet {
	return &Packet{Header: Header{
		SessionID: h.SessionID, Identifier: id, TotalSize: h.TotalSize, Flags: FlagAck,
		AckID: h.Identifier, AckUID: h.AckID, AckSize: h.TotalSize,
	}}
}

// Chunks splits a whole message into packets of at most MaxChunk data bytes that share base
// (its Identifier, SessionID, Flags, AckID) with increasing Offset; footer is the application
// id written after each chunk. Data of zero length gives one empty packet.
func Chunks(base Header, data []byte, footer uint32) []*Packet {
	base.TotalSize = uint64(len(data))
	var out []*Packet
	for off := 0; ; {
		end := min(off+MaxChunk, len(data))
		h := base
		h.Offset = uint64(off)
		out = append(out, &Packet{Header: h, Data: data[off:end], Footer: footer})
		if end >= len(data) {
			return out
		}
		off = end
	}
}
