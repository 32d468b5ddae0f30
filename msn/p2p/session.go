package p2p

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Defaults of SessionConfig.
const (
	DefaultMaxObjectSize      = 1 << 20
	DefaultSessionTimeout     = 2 * time.Minute
	DefaultMaxSessionsPerPeer = 2
	DefaultMaxServesPerPeer   = 2
	DefaultMaxServes          = 16
)

// AppIDs of the footer and of the INVITE body (FACTS §9.1, §9.2).
const (
	AppIDObject       = 1  // MSNObject, MSN 6–8.x
	AppIDFile         = 2  // file transfer
	AppIDDisplayWLM   = 12 // display picture, WLM 8.5+/2009
	AppIDEmoticonWLM  = 11 // custom emoticon, WLM 8.5+/2009
	dataPrepSize      = 4  // the data-preparation message: 4 zero bytes
	maxFetchesOverall = 64
)

// Errors of P2P sessions.
var (
	// ErrDeclined: the peer answered the invitation with 603 Decline (or another error).
	ErrDeclined = errors.New("p2p: invitation declined")
	// ErrBusy: too many sessions with that peer are in progress.
	ErrBusy = errors.New("p2p: too many sessions with this contact")
	// ErrClosed: the session ended (BYE from the peer, cancelled, timed out) before the data
	// was complete.
	ErrClosed = errors.New("p2p: session closed before the data was complete")
	// ErrChecksum: the data does not match the object's Size and SHA1D.
	ErrChecksum = errors.New("p2p: data does not match the MSNObject")
)

// SessionConfig bounds and feeds the P2P sessions of a Responder. Zero fields take the
// defaults in brackets.
type SessionConfig struct {
	// Objects returns the data of our own object whose SHA1D is sha1d (ok false when we have
	// none: the request is not for us). Nil: we serve nothing.
	Objects func(sha1d string) (data []byte, ok bool)
	// MaxObjectSize bounds an object we fetch [1 MiB].
	MaxObjectSize int
	// SessionTimeout bounds a fetch from INVITE to the last data chunk [2 min].
	SessionTimeout time.Duration
	// MaxSessionsPerPeer bounds the fetches in progress from one contact [2].
	MaxSessionsPerPeer int
	// MaxServesPerPeer and MaxServes bound the requests for our own objects served at once,
	// to one contact and overall [2, 16]: a request over either is declined with 603 (the
	// contact may ask again later). A served request counts until the contact acknowledges
	// the data or closes the session with BYE, at most SessionTimeout.
	MaxServesPerPeer int
	MaxServes        int
	// ServeLimiter, when set, applies the bounds on serving across every Responder given
	// it (msn/sb shares one among the conversations of a login); its own bounds then hold
	// and MaxServesPerPeer and MaxServes are not used. Nil: the Responder has its own.
	ServeLimiter *ServeLimiter
	// Now is the clock [time.Now].
	Now func() time.Time

	// AcceptFile decides on a file a contact offers (t.File: name and size) within
	// MaxFileSize: it returns the writer the data is streamed to as its chunks arrive, or nil
	// to decline with 603. The writer is not used once t.Done is closed. It is called on the
	// goroutine that reads the switchboard: it must return quickly. Nil: every file offer is
	// declined.
	AcceptFile func(t *Transfer) io.Writer
	// MaxFileSize bounds a file we accept; a larger offer is declined [100 MiB].
	MaxFileSize int64
	// FileTimeout bounds how long the peer of a file transfer may stay silent: accepting our
	// offer, sending the next chunk, acknowledging the data [2 min].
	FileTimeout time.Duration
}

func (c SessionConfig) withDefaults() SessionConfig {
	if c.MaxObjectSize <= 0 {
		c.MaxObjectSize = DefaultMaxObjectSize
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxSessionsPerPeer <= 0 {
		c.MaxSessionsPerPeer = DefaultMaxSessionsPerPeer
	}
	if c.MaxServesPerPeer <= 0 {
		c.MaxServesPerPeer = DefaultMaxServesPerPeer
	}
	if c.MaxServes <= 0 {
		c.MaxServes = DefaultMaxServes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Fetch is a request for a contact's MSNObject (display picture) in progress: the INVITE
// went out, and the 200 OK, data preparation and data chunks are fed to it by
// Responder.Handle. Done is closed once it ended; Result tells how.
type Fetch struct {
	Peer      string     // the contact, lower case
	Object    *MSNObject // what was asked for
	SessionID uint32
	CallID    string

	branch  string
	created time.Time
	done    chan struct{}
	// Guarded by the Responder's mutex.
	dataID uint32 // Identifier of the data message once its first chunk came; 0 before
	dataOK bool   // dataID is set
	buf    []byte
	data   []byte
	err    error
}

// Done is closed when the fetch ended.
func (f *Fetch) Done() <-chan struct{} { return f.done }

// Result returns the object's data (verified against Size and SHA1D) or why there is none.
// It is meaningful once Done is closed.
func (f *Fetch) Result() ([]byte, error) {
	select {
	case <-f.done:
		return f.data, f.err
	default:
		return nil, errors.New("p2p: fetch still in progress")
	}
}

// randomSessionID returns a random non-zero session id, below 0xFFFFFF00 as pidgin draws them.
func randomSessionID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])%0xFFFFFF00 + 4
}

// newGUID returns a random "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" for branches and Call-IDs.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return "{" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32] + "}"
}

// Fetch starts fetching obj from its creator peer (P2Pv1 over the switchboard, FACTS §9.3):
// it returns the Fetch and the frames of the INVITE to send to the peer. Errors: ErrBusy when
// MaxSessionsPerPeer fetches from that peer are in progress, ErrTooLarge for an object over
// MaxObjectSize.
func (r *Responder) Fetch(peer string, obj *MSNObject) (*Fetch, []Frame, error) {
	peer = strings.ToLower(strings.TrimSpace(peer))
	if obj == nil || peer == "" {
		return nil, nil, errors.New("p2p: fetch needs a peer and an object")
	}
	if obj.Size > r.cfg.MaxObjectSize {
		return nil, nil, fmt.Errorf("%w: object of %d bytes (max %d)", ErrTooLarge, obj.Size, r.cfg.MaxObjectSize)
	}
	r.mu.Lock()
	r.expireLocked()
	n := 0
	for _, f := range r.fetches {
		if f.Peer == peer {
			n++
		}
	}
	if n >= r.cfg.MaxSessionsPerPeer || len(r.fetches) >= maxFetchesOverall {
		r.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: %d in progress with %s", ErrBusy, n, peer)
	}
	f := &Fetch{
		Peer: peer, Object: obj, SessionID: randomSessionID(), CallID: newGUID(),
		branch: newGUID(), created: r.cfg.Now(), done: make(chan struct{}),
	}
	r.fetches[f.CallID] = f
	r.mu.Unlock()

	invite := r.invite(peer, f.branch, f.CallID, EUFGUIDMSNObject, f.SessionID, AppIDObject, obj.Context())
	return f, r.slpFrames(peer, invite), nil
}

// Cancel ends a fetch that is still in progress with cause (the caller's timeout or
// cancellation) and returns the frames of a BYE to send to the peer so that it stops; nil
// when the fetch had already ended.
func (r *Responder) Cancel(f *Fetch, cause error) []Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fetches[f.CallID] != f {
		return nil
	}
	r.endLocked(f, nil, fmt.Errorf("%w: %w", ErrClosed, cause))
	return r.slpFrames(f.Peer, r.bye(f))
}

// Fetches returns how many fetches are in progress.
func (r *Responder) Fetches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.fetches)
}

// endLocked finishes f with data or err.
func (r *Responder) endLocked(f *Fetch, data []byte, err error) {
	delete(r.fetches, f.CallID)
	f.data, f.err, f.buf = data, err, nil
	close(f.done)
}

// expireLocked ends the fetches older than SessionTimeout.
func (r *Responder) expireLocked() {
	now := r.cfg.Now()
	for _, f := range r.fetches {
		if now.Sub(f.created) >= r.cfg.SessionTimeout {
			r.endLocked(f, nil, fmt.Errorf("%w: no data after %s", ErrClosed, r.cfg.SessionTimeout))
		}
	}
}

func (r *Responder) bye(f *Fetch) *SLPMessage {
	return r.byeFor(f.Peer, f.CallID, f.SessionID)
}

// byeFor builds the BYE (sessionclosebody) that closes session sid of call callID with peer.
func (r *Responder) byeFor(peer, callID string, sid uint32) *SLPMessage {
	return r.slpRequest("BYE", peer, newGUID(), callID, ContentSessionClose,
		SLPBody(Field{Name: "SessionID", Value: strconv.FormatUint(uint64(sid), 10)}))
}

// invite builds the INVITE (sessionreqbody) that opens session sid of call callID with peer
// for the application eufGUID/appID, with its Context.
func (r *Responder) invite(peer, branch, callID, eufGUID string, sid uint32, appID int, context string) *SLPMessage {
	return r.slpRequest("INVITE", peer, branch, callID, ContentSessionReq, SLPBody(
		Field{Name: "EUF-GUID", Value: eufGUID},
		Field{Name: "SessionID", Value: strconv.FormatUint(uint64(sid), 10)},
		Field{Name: "AppID", Value: strconv.Itoa(appID)},
		Field{Name: "Context", Value: context},
	))
}

// slpRequest builds an SLP request from us to peer, as the captured clients send them: CSeq 0,
// Max-Forwards 0, and the Content-Length filled in when the message is serialised.
func (r *Responder) slpRequest(method, peer, branch, callID, contentType string, body []byte) *SLPMessage {
	return &SLPMessage{
		Method: method,
		Target: "MSNMSGR:" + peer,
		Headers: Fields{
			{Name: "To", Value: "<msnmsgr:" + peer + ">"},
			{Name: "From", Value: "<msnmsgr:" + r.self + ">"},
			{Name: "Via", Value: "MSNSLP/1.0/TLP ;branch=" + branch},
			{Name: "CSeq", Value: "0 "},
			{Name: "Call-ID", Value: callID},
			{Name: "Max-Forwards", Value: "0"},
			{Name: "Content-Type", Value: contentType},
			{Name: "Content-Length", Value: ""},
		},
		Body: body,
	}
}

// slpFrames chunks an SLP message (SessionID 0, footer 0) into frames for peer.
func (r *Responder) slpFrames(peer string, m *SLPMessage) []Frame {
	base := Header{Identifier: r.newID(), AckID: randomAckID()}
	var out []Frame
	for _, c := range Chunks(base, m.Bytes(), 0) {
		out = append(out, Frame{Dest: peer, Data: c.Bytes()})
	}
	return out
}

// onSLPForFetch handles an SLP response or BYE that belongs to one of our fetches (by
// Call-ID); it reports false when none does.
func (r *Responder) onSLPForFetch(m *SLPMessage) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.fetches[m.CallID()]
	if f == nil {
		return false
	}
	switch {
	case m.StatusCode == 200: // accepted: the data follows
	case m.StatusCode != 0:
		r.endLocked(f, nil, fmt.Errorf("%w: %d %s", ErrDeclined, m.StatusCode, clip(m.Reason)))
	case m.Method == "BYE":
		r.endLocked(f, nil, fmt.Errorf("%w: BYE from %s", ErrClosed, f.Peer))
	}
	return true
}

// onSessionData handles a frame with a non-zero SessionID from peer: the data preparation or
// a data chunk of one of our fetches. It returns the frames to send (ACKs, BYE) and whether
// the frame belonged to a fetch.
func (r *Responder) onSessionData(peer string, p *Packet) ([]Frame, bool) {
	h := p.Header
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked()
	var f *Fetch
	for _, g := range r.fetches {
		if g.Peer == peer && g.SessionID == h.SessionID {
			f = g
			break
		}
	}
	if f == nil {
		return nil, false
	}
	isData := h.Flags&FlagObjectData != 0
	if !isData {
		if h.TotalSize == dataPrepSize && h.IsLastChunk() && !f.dataOK {
			return []Frame{r.ackFrame(peer, h)}, true // data preparation
		}
		return nil, true // something else of this session (e.g. a close flag): ignore
	}
	if !f.dataOK {
		if h.Offset != 0 {
			return nil, true // a chunk from the middle of another endpoint's copy: ignore
		}
		if h.TotalSize != uint64(f.Object.Size) || h.TotalSize > uint64(r.cfg.MaxObjectSize) {
			r.endLocked(f, nil, fmt.Errorf("%w: %d bytes announced for an object of %d (max %d)", ErrTooLarge, h.TotalSize, f.Object.Size, r.cfg.MaxObjectSize))
			return r.slpFrames(peer, r.bye(f)), true
		}
		f.dataID, f.dataOK = h.Identifier, true
		f.buf = make([]byte, 0, h.TotalSize)
	}
	if h.Identifier != f.dataID {
		return nil, true // another endpoint of the peer answered too: keep to the first copy
	}
	if h.TotalSize != uint64(f.Object.Size) || h.Offset != uint64(len(f.buf)) {
		r.endLocked(f, nil, fmt.Errorf("%w: chunk %d+%d of %d after %d bytes (missing or overlapping chunk)", ErrMalformed, h.Offset, h.MessageSize, h.TotalSize, len(f.buf)))
		return r.slpFrames(peer, r.bye(f)), true
	}
	f.buf = append(f.buf, p.Data...)
	if !h.IsLastChunk() {
		return nil, true
	}
	out := []Frame{r.ackFrame(peer, h)}
	data := f.buf
	if !f.Object.Matches(data) {
		r.endLocked(f, nil, fmt.Errorf("%w: %d bytes from %s", ErrChecksum, len(data), peer))
	} else {
		r.endLocked(f, data, nil)
	}
	// The receiver closes the session (FACTS §9.3 step 6; pidgin does).
	return append(out, r.slpFrames(peer, r.bye(f))...), true
}

// serveResult says what serve made of an INVITE.
type serveResult int

const (
	notServed   serveResult = iota // not a request for an object we have
	serving                        // answered: 200 OK, data preparation, the data
	serveBusy                      // declined: MaxServesPerPeer or MaxServes requests being served
	serveRepeat                    // the same request again while it is served: the first answer stands
)

// serve answers an INVITE for one of our own objects: ACK (sent by the caller), 200 OK, data
// preparation and the data (FACTS §9.3, pidgin got_sessionreq), or 603 Decline when
// MaxServesPerPeer or MaxServes requests are being served; a repeat gets nothing more than
// the caller's ACK.
func (r *Responder) serve(peer string, m *SLPMessage, to string) ([]Frame, serveResult) {
	if r.cfg.Objects == nil || m.Method != "INVITE" || m.ContentType() != ContentSessionReq {
		return nil, notServed
	}
	fs := m.BodyFields()
	if !strings.EqualFold(fs.Get("EUF-GUID"), EUFGUIDMSNObject) {
		return nil, notServed
	}
	obj, err := ObjectFromContext(fs.Get("Context"))
	if err != nil || !strings.EqualFold(obj.Creator, r.self) {
		return nil, notServed
	}
	sid, ok := m.SessionID()
	if !ok || sid == 0 {
		return nil, notServed
	}
	data, ok := r.cfg.Objects(obj.SHA1D)
	if !ok || !obj.Matches(data) {
		return nil, notServed
	}
	// Admitted before anything is built: a flood of requests costs no chunking.
	r.mu.Lock()
	sv, repeat := r.admitServeLocked(peer, m.CallID(), sid)
	r.mu.Unlock()
	switch {
	case repeat:
		return nil, serveRepeat
	case sv == nil:
		return r.slpFrames(peer, NewDecline(m, to)), serveBusy
	}
	appID := uint32(AppIDObject)
	flags := FlagObjectData
	if n, err := strconv.ParseUint(fs.Get("AppID"), 10, 32); err == nil && n == AppIDDisplayWLM {
		appID, flags = AppIDDisplayWLM, FlagWLMObject
	}
	out := r.slpFrames(peer, NewResponse(m, 200, "OK", to))
	prep := &Packet{Header: Header{SessionID: sid, Identifier: r.newID(), TotalSize: dataPrepSize, AckID: randomAckID()}, Data: make([]byte, dataPrepSize), Footer: appID}
	out = append(out, Frame{Dest: peer, Data: prep.Bytes()})
	dataID := r.newID()
	for _, c := range Chunks(Header{SessionID: sid, Identifier: dataID, Flags: flags, AckID: randomAckID()}, data, appID) {
		out = append(out, Frame{Dest: peer, Data: c.Bytes()})
	}
	r.mu.Lock()
	sv.dataID = dataID
	r.mu.Unlock()
	return out, serving
}
