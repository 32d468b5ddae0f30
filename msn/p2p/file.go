package p2p

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Defaults of the file-transfer fields of SessionConfig.
const (
	DefaultMaxFileSize = 100 << 20
	DefaultFileTimeout = 2 * time.Minute
	// maxFilesPerPeer and maxFilesOverall bound the transfers in progress of one Responder.
	maxFilesPerPeer  = 4
	maxFilesOverall  = 64
	maxFileNameRunes = 255
)

// ErrTimeout: the peer did nothing within the transfer's time limit (SessionConfig.FileTimeout
// or the caller's deadline).
var ErrTimeout = errors.New("p2p: transfer timed out")

// Transfer is one file transfer (EUF-GUID {5D3E02AB-…}, AppID 2; FACTS §9.4) in progress, in
// either direction. Incoming transfers are created by Responder.Handle when an offer is
// accepted (SessionConfig.AcceptFile); outgoing ones by Responder.OfferFile. Done is closed when
// it ended; Err tells how.
type Transfer struct {
	Peer      string   // the contact, lower case
	File      FileInfo // name and size as offered
	SessionID uint32
	CallID    string
	Incoming  bool // the contact sends, we receive

	branch   string
	done     chan struct{}
	accepted chan struct{} // outgoing: closed by the peer's 200 OK
	// wmu is held while data is written to w, so that the writer is never used once Done is
	// closed (Cancel waits for a write in progress).
	wmu sync.Mutex
	// Guarded by the Responder's mutex.
	w        io.Writer
	dataID   uint32 // Identifier of the data message (ours when outgoing; the first chunk's when incoming)
	dataAck  uint32 // AckID of our data message (outgoing)
	dataOK   bool
	got      uint64 // bytes received (incoming)
	last     time.Time
	ended    bool
	isAccept bool
	err      error
}

// Done is closed when the transfer ended.
func (t *Transfer) Done() <-chan struct{} { return t.done }

// Accepted is closed when the peer accepted our offer (outgoing transfers).
func (t *Transfer) Accepted() <-chan struct{} { return t.accepted }

// Err returns why the transfer failed, nil when all the data went through; meaningful once
// Done is closed (before, an error saying it is in progress).
func (t *Transfer) Err() error {
	select {
	case <-t.done:
		return t.err
	default:
		return errors.New("p2p: transfer still in progress")
	}
}

// FileContext encodes the Context field of a file-transfer INVITE (FACTS §9.2) as the captured
// clients do: 574 bytes, version 2, the size, type 0 and no preview, the name in UTF-16LE
// (at most 259 units, cut there), 30 zero bytes and 0xFFFFFFFF; base64.
func FileContext(fi FileInfo) string {
	return encodeFileContext(fi)
}

func (c SessionConfig) maxFile() uint64 {
	if c.MaxFileSize <= 0 {
		return DefaultMaxFileSize
	}
	return uint64(c.MaxFileSize)
}

func (c SessionConfig) fileTimeout() time.Duration {
	if c.FileTimeout <= 0 {
		return DefaultFileTimeout
	}
	return c.FileTimeout
}

// FileTimeout returns the Responder's limit on how long a peer may stay silent in a transfer.
func (r *Responder) FileTimeout() time.Duration { return r.cfg.fileTimeout() }

// MaxFileSize returns the largest file the Responder accepts.
func (r *Responder) MaxFileSize() uint64 { return r.cfg.maxFile() }

// LastActivity returns when the peer last advanced the transfer (offer, answer, chunk).
func (r *Responder) LastActivity(t *Transfer) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return t.last
}

// Received returns how many data bytes of an incoming transfer arrived so far.
func (r *Responder) Received(t *Transfer) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return t.got
}

// Transfers returns how many file transfers are in progress.
func (r *Responder) Transfers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.files)
}

// countFilesLocked counts the transfers with peer.
func (r *Responder) countFilesLocked(peer string) int {
	n := 0
	for _, t := range r.files {
		if t.Peer == peer {
			n++
		}
	}
	return n
}

// endTransferLocked finishes t with err (nil: complete).
func (r *Responder) endTransferLocked(t *Transfer, err error) {
	if t.ended {
		return
	}
	delete(r.files, t.CallID)
	t.ended, t.err, t.w = true, err, nil
	close(t.done)
}

// onFileInvite answers a file-transfer INVITE addressed to us (to): 200 OK when
// SessionConfig.AcceptFile gives a writer for a file within MaxFileSize, 603 Decline
// otherwise. It returns the frames, the transfer (nil when declined) and whether the file was
// over the size limit.
func (r *Responder) onFileInvite(peer string, m *SLPMessage, to string) ([]Frame, *Transfer, bool) {
	fi, _ := FileOffer(m)
	sid, ok := m.SessionID()
	tooLarge := fi.Size > r.cfg.maxFile()
	decline := func() []Frame { return r.slpFrames(peer, NewDecline(m, to)) }
	if r.cfg.AcceptFile == nil || !ok || sid == 0 || tooLarge || m.CallID() == "" || fi.Name == "" {
		return decline(), nil, tooLarge
	}
	t := &Transfer{
		Peer: peer, File: fi, SessionID: sid, CallID: m.CallID(), Incoming: true,
		branch: m.Branch(), done: make(chan struct{}), accepted: make(chan struct{}),
	}
	r.mu.Lock()
	busy := r.files[t.CallID] != nil || r.countFilesLocked(peer) >= maxFilesPerPeer || len(r.files) >= maxFilesOverall
	for _, o := range r.files {
		if o.Incoming && o.Peer == peer && o.SessionID == sid {
			busy = true
		}
	}
	r.mu.Unlock()
	if busy {
		return decline(), nil, false
	}
	w := r.cfg.AcceptFile(t) // outside the lock: the caller may look at the Responder
	if w == nil {
		return decline(), nil, false
	}
	r.mu.Lock()
	t.w, t.last, t.isAccept = w, r.cfg.Now(), true
	close(t.accepted)
	r.files[t.CallID] = t
	r.mu.Unlock()
	return r.slpFrames(peer, NewResponse(m, 200, "OK", to)), t, false
}

// onFileData handles a frame with a non-zero SessionID from peer that may be a chunk of an
// incoming transfer: it streams the data to the transfer's writer, and returns the frames to
// send (the ACK after the last chunk; a BYE when the transfer broke) and whether the frame
// belonged to a transfer.
func (r *Responder) onFileData(peer string, p *Packet) ([]Frame, bool) {
	h := p.Header
	r.mu.Lock()
	var t *Transfer
	for _, o := range r.files {
		if o.Incoming && o.Peer == peer && o.SessionID == h.SessionID {
			t = o
			break
		}
	}
	r.mu.Unlock()
	if t == nil {
		return nil, false
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	r.mu.Lock()
	if t.ended {
		r.mu.Unlock()
		return nil, true
	}
	if h.Flags&FlagFile == 0 {
		r.mu.Unlock()
		return nil, true // a data preparation or close flag: nothing to store
	}
	if !t.dataOK {
		if h.Offset != 0 {
			r.mu.Unlock()
			return nil, true // the middle of another endpoint's copy
		}
		t.dataID, t.dataOK = h.Identifier, true
	}
	if h.Identifier != t.dataID {
		r.mu.Unlock()
		return nil, true
	}
	if h.TotalSize != t.File.Size || h.Offset != t.got {
		err := fmt.Errorf("%w: chunk %d+%d of %d after %d of %d bytes (missing or overlapping chunk)", ErrMalformed, h.Offset, h.MessageSize, h.TotalSize, t.got, t.File.Size)
		r.endTransferLocked(t, err)
		r.mu.Unlock()
		return r.slpFrames(peer, r.byeFor(peer, t.CallID, t.SessionID)), true
	}
	t.got += uint64(len(p.Data))
	t.last = r.cfg.Now()
	w := t.w
	r.mu.Unlock()
	if len(p.Data) > 0 {
		if _, err := w.Write(p.Data); err != nil {
			r.mu.Lock()
			r.endTransferLocked(t, fmt.Errorf("p2p: storing %s: %w", t.File.Name, err))
			r.mu.Unlock()
			return r.slpFrames(peer, r.byeFor(peer, t.CallID, t.SessionID)), true
		}
	}
	if !h.IsLastChunk() {
		return nil, true
	}
	r.mu.Lock()
	r.endTransferLocked(t, nil)
	r.mu.Unlock()
	// As the captured receiver: one ACK after the last chunk, no BYE (transcripts/p2p finding 6).
	return []Frame{r.ackFrame(peer, h)}, true
}

// onFileAck handles a P2P ACK from peer: the acknowledgement of the whole data message of an
// outgoing transfer completes it.
func (r *Responder) onFileAck(peer string, h Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.files {
		if !t.Incoming && t.Peer == peer && t.SessionID == h.SessionID && t.dataOK && h.AckID == t.dataID {
			if h.AckSize == t.File.Size || h.TotalSize == t.File.Size {
				r.endTransferLocked(t, nil)
			}
			return
		}
	}
}

// onSLPForFile handles an SLP response or BYE that belongs to one of our transfers with peer
// (by Call-ID); it reports false when none does.
func (r *Responder) onSLPForFile(peer string, m *SLPMessage) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.files[m.CallID()]
	if t == nil || t.Peer != peer {
		return false
	}
	switch {
	case m.Method == "BYE":
		r.endTransferLocked(t, fmt.Errorf("%w: %s cancelled the transfer", ErrClosed, peer))
	case t.Incoming:
		// A response to an incoming offer makes no sense: ignore.
	case m.StatusCode == 200:
		if !t.isAccept {
			t.isAccept, t.last = true, r.cfg.Now()
			close(t.accepted)
		}
	case m.StatusCode != 0 && !t.isAccept:
		// (A decline after a 200 OK comes from another endpoint of the contact: MSNP16+
		// delivers the offer to all of them, and the first answer counts.)
		r.endTransferLocked(t, fmt.Errorf("%w: %d %s", ErrDeclined, m.StatusCode, clip(m.Reason)))
	}
	return true
}

// OfferFile offers peer the file fi (FACTS §9.4): it returns the transfer and the frames of
// the INVITE to send. Once Accepted is closed, send the data with FileChunk; Done is closed
// when the peer acknowledged all of it, declined (ErrDeclined), or cancelled (ErrClosed).
// Errors: ErrBusy when too many transfers with that peer are in progress.
func (r *Responder) OfferFile(peer string, fi FileInfo) (*Transfer, []Frame, error) {
	peer = strings.ToLower(strings.TrimSpace(peer))
	fi.Name = cleanFileName(fi.Name)
	if peer == "" || fi.Name == "" {
		return nil, nil, errors.New("p2p: a file offer needs a peer and a file name")
	}
	t := &Transfer{
		Peer: peer, File: fi, SessionID: randomSessionID(), CallID: newGUID(), branch: newGUID(),
		done: make(chan struct{}), accepted: make(chan struct{}),
	}
	r.mu.Lock()
	if n := r.countFilesLocked(peer); n >= maxFilesPerPeer || len(r.files) >= maxFilesOverall {
		r.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: %d transfers in progress with %s", ErrBusy, n, peer)
	}
	t.dataID, t.dataAck, t.dataOK, t.last = r.newID(), randomAckID(), true, r.cfg.Now()
	r.files[t.CallID] = t
	r.mu.Unlock()
	invite := r.invite(peer, t.branch, t.CallID, EUFGUIDFileTransfer, t.SessionID, AppIDFile, FileContext(fi))
	return t, r.slpFrames(peer, invite), nil
}

// FileChunk returns the frame carrying data at offset off of an outgoing transfer's file: one
// chunk of its data message (at most MaxChunk bytes; flags 0x1000030, footer AppID 2, as
// FACTS §9.4). It copies data.
func (r *Responder) FileChunk(t *Transfer, off uint64, data []byte) Frame {
	r.mu.Lock()
	id, ack := t.dataID, t.dataAck
	r.mu.Unlock()
	if len(data) > MaxChunk {
		data = data[:MaxChunk]
	}
	p := &Packet{Header: Header{
		SessionID: t.SessionID, Identifier: id, Offset: off, TotalSize: t.File.Size,
		Flags: FlagWLMFile, AckID: ack,
	}, Data: data, Footer: AppIDFile}
	return Frame{Dest: t.Peer, Data: p.Bytes()}
}

// CancelTransfer ends a transfer still in progress with cause (wrapped in ErrClosed, or
// ErrTimeout when cause is one) and returns the frames of a BYE that tells the peer; nil when
// it had already ended. It waits for a write to the transfer's writer in progress.
func (r *Responder) CancelTransfer(t *Transfer, cause error) []Frame {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.ended {
		return nil
	}
	err := fmt.Errorf("%w: %w", ErrClosed, cause)
	if errors.Is(cause, ErrTimeout) {
		err = cause
	}
	r.endTransferLocked(t, err)
	return r.slpFrames(t.Peer, r.byeFor(t.Peer, t.CallID, t.SessionID))
}

// cleanFileName keeps the last path element of name without control characters, at most
// maxFileNameRunes runes (the context has room for 259 UTF-16 units).
func cleanFileName(name string) string {
	name = dropControl(strings.TrimSpace(pathBase(name)))
	if rs := []rune(name); len(rs) > maxFileNameRunes {
		name = string(rs[:maxFileNameRunes])
	}
	return name
}

// pathBase is the last element of a path with / or \ separators.
func pathBase(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}

// dropControl removes the control characters (C0 and DEL) from s.
func dropControl(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
