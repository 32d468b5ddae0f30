package sb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/p2p"
)

// fileWindow is how many data chunks of an outgoing file may wait for the server's ACK at
// once. Real clients send the next chunk only on the ACK of the previous one (transcripts/p2p
// finding 3); a small window keeps that pacing without paying a round trip per chunk.
const fileWindow = 8

// ErrFileTooLarge: the file is over the size a transfer can announce.
var ErrFileTooLarge = errors.New("sb: file too large")

// watchTransfer ends an incoming transfer whose contact stays silent for P2P.FileTimeout (or
// whose manager closes), telling the contact with BYE.
func (c *Conversation) watchTransfer(t *p2p.Transfer) {
	r := c.p2p.responder(c)
	timeout := r.FileTimeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-t.Done():
			return
		case <-c.m.ctx.Done():
			r.CancelTransfer(t, ErrClosed)
			return
		case <-timer.C:
		}
		idle := time.Since(r.LastActivity(t))
		if idle < timeout {
			timer.Reset(timeout - idle)
			continue
		}
		c.sendFrames(c.m.ctx, nil, r.CancelTransfer(t, fmt.Errorf("%w: no data from %s for %s", p2p.ErrTimeout, t.Peer, timeout)))
		c.log.Debug().Str("from", t.Peer).Msg("incoming file transfer timed out")
		return
	}
}

// SendFile offers the contact of this one-to-one conversation a file of size bytes named
// name (the last element of a path), whose data r gives, as an MSN file transfer (MSNSLP
// INVITE with EUF-GUID {5D3E02AB-…}, AppID 2; P2Pv1 over the switchboard, FACTS §9.4),
// opening a switchboard when needed. Once the contact accepts, the data is read from r and
// sent in chunks of at most 1202 bytes as it is read, never held whole. It returns nil when
// the contact acknowledged all the data; otherwise an error wrapping p2p.ErrDeclined (the
// contact declined), p2p.ErrClosed (the contact cancelled), p2p.ErrTimeout (the contact did
// nothing for P2P.FileTimeout), ErrClosed (the manager closed meanwhile), ctx's error, the
// reader's error, or the Result error of a frame that could not be sent (the contact is
// offline: ErrOffline and the like). On every
// failure after the offer went out, the session is closed with BYE.
func (c *Conversation) SendFile(ctx context.Context, name string, size int64, r io.Reader) error {
	if c.group {
		return errors.New("msn: files are offered over a one-to-one conversation")
	}
	if size < 0 {
		return fmt.Errorf("msn: file of %d bytes: %w", size, ErrFileTooLarge)
	}
	resp := c.p2p.responder(c)
	t, frames, err := resp.OfferFile(c.peer, p2p.FileInfo{Name: name, Size: uint64(size)})
	if err != nil {
		return fmt.Errorf("msn: offering %s a file: %w", c.peer, err)
	}
	timeout := resp.FileTimeout()
	fail := func(err error) error {
		if frames := resp.CancelTransfer(t, err); frames != nil {
			c.sendFrames(c.m.ctx, nil, frames)
		} else if e := t.Err(); e != nil {
			err = e // ended by the contact first: that is the reason
		}
		return fmt.Errorf("msn: sending %q to %s: %w", t.File.Name, c.peer, err)
	}
	if o, err := c.sendFrames(ctx, nil, frames).Wait(ctx); o != Delivered {
		return fail(fmt.Errorf("offer %s: %w", o, err))
	}
	// Wait for the contact's answer: a person accepts or declines.
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.Accepted():
	case <-t.Done():
		return fail(t.Err())
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-c.m.ctx.Done(): // the manager closed (logout, shutdown): nobody will send the data
		return fail(ErrClosed)
	case <-timer.C:
		return fail(fmt.Errorf("%w: no answer to the offer for %s", p2p.ErrTimeout, timeout))
	}
	if err := c.streamFile(ctx, resp, t, r); err != nil {
		return fail(err)
	}
	// The contact acknowledges the whole data message.
	timer.Reset(timeout)
	select {
	case <-t.Done():
		if err := t.Err(); err != nil {
			return fmt.Errorf("msn: sending %q to %s: %w", t.File.Name, c.peer, err)
		}
		return nil
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-c.m.ctx.Done():
		return fail(ErrClosed)
	case <-timer.C:
		return fail(fmt.Errorf("%w: the data was never acknowledged", p2p.ErrTimeout))
	}
}

// streamFile reads t's data from r and sends it chunk by chunk, keeping at most fileWindow
// chunks waiting for the server's ACK.
func (c *Conversation) streamFile(ctx context.Context, resp *p2p.Responder, t *p2p.Transfer, r io.Reader) error {
	buf := make([]byte, p2p.MaxChunk)
	var window []*Result
	size := t.File.Size
	for off := uint64(0); ; {
		select {
		case <-t.Done():
			return t.Err()
		default:
		}
		n := min(uint64(len(buf)), size-off)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return fmt.Errorf("reading the file at %d of %d bytes: %w", off, size, err)
		}
		window = append(window, c.sendFrames(ctx, nil, []p2p.Frame{resp.FileChunk(t, off, buf[:n])}))
		off += n
		done := off >= size
		for len(window) >= fileWindow || (done && len(window) > 0) {
			if o, err := window[0].Wait(ctx); o != Delivered {
				return fmt.Errorf("data %s: %w", o, err)
			}
			window = window[1:]
		}
		if done {
			return nil
		}
	}
}

// SendFile offers the contact passport a file: see Conversation.SendFile.
func (m *Manager) SendFile(ctx context.Context, passport, name string, size int64, r io.Reader) error {
	return m.Conversation(strings.ToLower(strings.TrimSpace(passport))).SendFile(ctx, name, size, r)
}

// FileTransfers returns how many file transfers, in either direction, are in progress on the
// conversation.
func (c *Conversation) FileTransfers() int { return c.p2p.responder(c).Transfers() }
