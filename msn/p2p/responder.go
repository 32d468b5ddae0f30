package p2p

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Frame is a P2P frame to send: the switchboard message's P2P-Dest header and its body.
type Frame struct {
	Dest string // P2P-Dest: the peer's e-mail ("email;{guid}" only for P2Pv2, never sent here)
	Data []byte // header, data and footer
	// Ack is set when the frame only acknowledges one the peer sent. It belongs to the
	// switchboard that frame came in on: when that switchboard is gone, the ACK is dropped,
	// never sent on (or a switchboard opened for it) another one — the peer's transport
	// already forgot what it acknowledges (e.g. the ACK of a BYE).
	Ack bool
}

// Outcome says what a Responder did with one incoming frame.
type Outcome struct {
	// Replies are the frames to send, in order (an ACK first, then any SLP answer).
	Replies []Frame
	// SLP is the SLP message the frame completed, if any.
	SLP *SLPMessage
	// Declined is set when the SLP message was an INVITE answered with 603 Decline.
	Declined bool
	// Served is set when the SLP message was an INVITE for one of our own objects, answered
	// with 200 OK and the data. One declined because too many are being served
	// (SessionConfig.MaxServes…) has Declined set instead.
	Served bool
	// Session is set when the frame belonged to one of our P2P sessions (a fetch's answers
	// and data, a served request) or acknowledges a frame the Responder sent: the client's
	// own business, nothing to show.
	Session bool
	// Offer is set for a file-transfer INVITE addressed to us: the file offered.
	Offer *FileInfo
	// File is set when that offer was accepted (SessionConfig.AcceptFile gave a writer): the
	// transfer now in progress. The caller bounds it in time (FileTimeout, CancelTransfer).
	File *Transfer
	// TooLarge is set when the offer was declined because the file is over MaxFileSize.
	TooLarge bool
	// NotForUs is set when the frame is addressed to another participant of the switchboard
	// or to another endpoint of this account: it must be ignored entirely.
	NotForUs bool
}

// Responder runs the P2P traffic of one conversation: it acknowledges every SLP message
// addressed to it, serves our own objects (display picture) to contacts who ask for them,
// fetches contacts' objects (Fetch), runs file transfers (SessionConfig.AcceptFile,
// OfferFile), and answers every other INVITE (file offers it does not accept, webcam,
// direct-connection transreqbody, …) at once with 603 Decline, so the peer's transfer ends
// instead of waiting for a timeout — except, on MSNP16+, requests for objects that are not
// ours, which another endpoint of the account may serve. Data of sessions it never accepted
// is left alone. Safe for concurrent use.
type Responder struct {
	self     string // our e-mail, lower case
	endpoint string // our "{guid}" on MSNP16+, lower case; "" before
	asm      *Assembler
	cfg      SessionConfig

	idMu    sync.Mutex
	firstID uint32 // the Identifier of our first frame: ours run from firstID to nextID-1
	nextID  uint32
	mu      sync.Mutex
	fetches map[string]*Fetch    // by Call-ID
	files   map[string]*Transfer // by Call-ID
	serves  map[string]*served   // by Call-ID
	// serveLimit bounds serves with those of other Responders (SessionConfig.ServeLimiter).
	serveLimit *ServeLimiter
}

// NewResponder returns a Responder for the account self; endpoint is its machine GUID
// ("{…}") on MSNP16+, "" on older versions.
func NewResponder(self, endpoint string) *Responder {
	return NewSessionResponder(self, endpoint, SessionConfig{})
}

// NewSessionResponder is NewResponder that also runs P2P sessions: it serves our own objects
// (cfg.Objects) to contacts who ask for them, and fetches contacts' objects (Fetch), within
// the bounds of cfg.
func NewSessionResponder(self, endpoint string, cfg SessionConfig) *Responder {
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := binary.LittleEndian.Uint32(b[:])%0x7fff0000 + 4
	limit := cfg.ServeLimiter
	if limit == nil {
		limit = NewServeLimiter(cfg)
	}
	return &Responder{
		serveLimit: limit,
		self:       strings.ToLower(strings.TrimSpace(self)),
		endpoint:   strings.ToLower(strings.TrimSpace(endpoint)),
		asm:        NewAssembler(AssemblerConfig{}),
		cfg:        cfg.withDefaults(),
		firstID:    id,
		nextID:     id,
		fetches:    make(map[string]*Fetch),
		files:      make(map[string]*Transfer),
		serves:     make(map[string]*served),
	}
}

// senderOf is the peer's e-mail: the MSG line's sender, which the server stamps. P2P-Src is
// the peer's own claim: in a multi-party switchboard a third participant could name someone
// else there and inject data or a BYE into their session, so it is used only when the MSG
// carried no sender, and a frame whose P2P-Src names another account is not that account's.
func senderOf(from, src string) string {
	if f, _ := SplitAddress(from); f != "" {
		return f
	}
	e, _ := SplitAddress(src)
	return e
}

// ourAddress reports whether addr (P2P-Dest, SLP To) names this client: our e-mail, bare or
// with our own endpoint GUID.
func (r *Responder) ourAddress(addr string) bool {
	return AddressedTo(addr, r.self, r.endpoint)
}

// AddressedTo reports whether addr (a P2P-Dest or SLP To: "email", "email;{guid}", with or
// without "msnmsgr:" and angle brackets) names the client of account self at endpoint, its
// machine GUID on MSNP16+ ("" before, where only the bare e-mail names it). Case and spaces
// do not matter.
func AddressedTo(addr, self, endpoint string) bool {
	email, guid := SplitAddress(addr)
	if email != strings.ToLower(strings.TrimSpace(self)) {
		return false
	}
	return guid == "" || guid == strings.ToLower(strings.TrimSpace(endpoint))
}

// sentByUs reports whether id is the Identifier of a frame this Responder sent (it draws them
// in sequence from a random start, so those of frames the application sent itself, with
// their own Identifiers, fall outside).
func (r *Responder) sentByUs(id uint32) bool {
	r.idMu.Lock()
	defer r.idMu.Unlock()
	return id != 0 && id-r.firstID < r.nextID-r.firstID
}

// ackFrame is the ACK to peer of the message whose last chunk is h.
func (r *Responder) ackFrame(peer string, h Header) Frame {
	return Frame{Dest: peer, Data: NewAck(h, r.newID()).Bytes(), Ack: true}
}

func (r *Responder) newID() uint32 {
	r.idMu.Lock()
	defer r.idMu.Unlock()
	id := r.nextID
	r.nextID++
	if r.nextID == 0 {
		r.nextID = 1
	}
	return id
}

func randomAckID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	if v := binary.LittleEndian.Uint32(b[:]); v != 0 {
		return v
	}
	return 1
}

// Handle processes one P2P frame that from sent with the given P2P-Dest and P2P-Src headers.
// The error is ErrP2Pv2 for a P2Pv2 packet and ErrMalformed/ErrTooLarge for bad input; the
// caller logs it and sends nothing.
func (r *Responder) Handle(from, dest, src string, data []byte) (Outcome, error) {
	if dest != "" && !r.ourAddress(dest) {
		return Outcome{NotForUs: true}, nil
	}
	p, err := ParseFrame(dest, src, data)
	if err != nil {
		return Outcome{}, err
	}
	h := p.Header
	if h.Flags&(FlagAck|FlagNAK|FlagError|FlagTLPError) != 0 {
		// Acknowledgements and errors need no answer; the ACK of an outgoing file's data
		// completes its transfer. Those of frames we sent are nobody else's business; others
		// acknowledge what the application sent itself.
		if h.IsAck() && h.SessionID != 0 {
			r.onFileAck(senderOf(from, src), h)
			r.onServeAck(senderOf(from, src), h)
		}
		return Outcome{Session: r.sentByUs(h.AckID)}, nil
	}
	if h.SessionID != 0 {
		// Data of one of our fetches or incoming files; anything else belongs to a session
		// this client never accepted (another endpoint of the account may have) and is left
		// alone.
		if replies, ours := r.onFileData(senderOf(from, src), p); ours {
			return Outcome{Replies: replies, Session: true}, nil
		}
		replies, ours := r.onSessionData(senderOf(from, src), p)
		return Outcome{Replies: replies, Session: ours}, nil
	}
	whole, err := r.asm.Add(strings.ToLower(from), p)
	if err != nil || whole == nil {
		return Outcome{}, err
	}
	m, err := ParseSLP(whole)
	if err != nil {
		return Outcome{}, fmt.Errorf("SLP message from %s: %w", from, err)
	}
	out := Outcome{SLP: m}
	to := m.To()
	if m.IsRequest() && to == "" {
		to = addrValue(m.Target)
	}
	if !r.ourAddress(to) {
		out.NotForUs = true
		return out, nil
	}
	peer := senderOf(from, src)
	// As the captured clients: acknowledge the message first, then answer it.
	out.Replies = append(out.Replies, r.ackFrame(peer, h))
	if !m.IsRequest() || m.Method == "BYE" {
		out.Session = r.onSLPForFetch(m) || r.onSLPForFile(peer, m) || r.onSLPForServe(peer, m)
		return out, nil
	}
	if frames, res := r.serve(peer, m, to); res != notServed {
		out.Replies = append(out.Replies, frames...)
		out.Served, out.Declined, out.Session = res == serving, res == serveBusy, true
		return out, nil
	}
	if r.endpoint != "" && m.Method == "INVITE" && strings.EqualFold(m.BodyFields().Get("EUF-GUID"), EUFGUIDMSNObject) {
		// MSNP16+: the INVITE reached every endpoint of this account; another one (the
		// user's own Messenger) may have the object asked for. Answer only requests for our
		// own data (P2PV2.md §1.3 item 3).
		return out, nil
	}
	if fi, ok := FileOffer(m); ok && m.ContentType() == ContentSessionReq {
		out.Offer = &fi
		frames, t, tooLarge := r.onFileInvite(peer, m, to)
		out.Replies = append(out.Replies, frames...)
		out.File, out.TooLarge, out.Declined = t, tooLarge, t == nil
		out.Session = t != nil
		return out, nil
	}
	if m.Method == "INVITE" {
		out.Replies = append(out.Replies, r.slpFrames(peer, NewDecline(m, to))...)
		out.Declined = true
	}
	return out, nil
}

// MessagePayload builds the switchboard MSG payload that carries a P2P frame: the MIME
// headers the captured clients send (MIME-Version, Content-Type application/x-msnmsgrp2p,
// P2P-Dest) and the frame. Send it with ack type D.
func MessagePayload(dest string, frame []byte) ([]byte, error) {
	if dest == "" || strings.ContainsAny(dest, "\r\n") {
		return nil, errors.New("p2p: invalid P2P-Dest")
	}
	head := "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: " + dest + "\r\n\r\n"
	return append([]byte(head), frame...), nil
}
