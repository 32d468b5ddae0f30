package transcript

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// Replay plays the server side of one transcript connection to a real client: it sends the
// server's commands and checks that the client sends the expected ones, in order. TrIDs are
// mapped: a server reply carries the TrID the client actually used for the matching request.
type Replay struct {
	// Entries are the commands of one connection (see [Transcript.Conn]).
	Entries []Entry
	// Compare checks a client command against the expected one after the names matched;
	// nil compares the arguments and payload exactly.
	Compare func(want, got *wire.Command) error
	// Skip reports that an expected client command is not sent by this client; it and the
	// server replies carrying its TrID are dropped from the replay.
	Skip func(want *wire.Command) bool
	// Extra answers a client command the transcript does not expect at that point (for
	// example CVR on a version whose transcript has none). ok=false makes it a mismatch.
	Extra func(got *wire.Command) (replies []*wire.Command, ok bool)
	// Timeout bounds the wait for each client command (default 5 s).
	Timeout time.Duration
	// Limits bound the reader of client commands.
	Limits wire.Limits

	rd   *wire.Reader
	conn net.Conn
}

// MismatchError reports a client command that differs from the transcript.
type MismatchError struct {
	// LineNo is the transcript line of the expected command.
	LineNo int
	// Want is the transcript's command, Got what the client sent.
	Want, Got string
	// Reason says how they differ.
	Reason string
}

// Error names the transcript line and both commands.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("transcript line %d: want %q, client sent %q: %s", e.LineNo, e.Want, e.Got, e.Reason)
}

// Serve plays the transcript on conn and returns when it is exhausted (nil), when the client
// deviates (*MismatchError) or on an I/O error. It does not close conn.
func (r *Replay) Serve(conn net.Conn) error {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if r.rd == nil || r.conn != conn {
		r.rd, r.conn = wire.NewReader(conn, wire.FromClient, r.Limits), conn
	}
	rd := r.rd
	w := wire.NewWriter(conn)
	trids := map[uint32]uint32{}
	skipped := map[uint32]bool{}
	for _, e := range r.Entries {
		want, err := e.Command()
		if err != nil {
			return err
		}
		if e.Dir == ServerToClient {
			if want.HasTrID && want.TrID != 0 {
				if skipped[want.TrID] {
					continue
				}
				if got, ok := trids[want.TrID]; ok {
					want.TrID = got
				}
			}
			if err := w.WriteCommand(want); err != nil {
				return err
			}
			continue
		}
		if r.Skip != nil && r.Skip(want) {
			if want.HasTrID {
				skipped[want.TrID] = true
			}
			continue
		}
		for {
			_ = conn.SetReadDeadline(time.Now().Add(timeout))
			got, err := rd.ReadCommand()
			if err != nil {
				return fmt.Errorf("transcript line %d: waiting for %q: %w", e.LineNo, want.String(), err)
			}
			if got.Name != want.Name {
				if r.Extra != nil {
					if replies, ok := r.Extra(got); ok {
						for _, c := range replies {
							if err := w.WriteCommand(c); err != nil {
								return err
							}
						}
						continue
					}
				}
				return &MismatchError{LineNo: e.LineNo, Want: want.String(), Got: got.String(), Reason: "different command"}
			}
			cmp := r.Compare
			if cmp == nil {
				cmp = Exact
			}
			if err := cmp(want, got); err != nil {
				return &MismatchError{LineNo: e.LineNo, Want: want.String(), Got: got.String(), Reason: err.Error()}
			}
			if want.HasTrID {
				trids[want.TrID] = got.TrID
			}
			break
		}
	}
	return nil
}

// Exact compares arguments and payload byte for byte.
func Exact(want, got *wire.Command) error {
	if !slices.Equal(want.Args, got.Args) {
		return fmt.Errorf("arguments differ")
	}
	if want.HasPayload != got.HasPayload || string(want.Payload) != string(got.Payload) {
		return fmt.Errorf("payload differs")
	}
	return nil
}

// Drain reads and discards client commands after [Replay.Serve] until the client closes the
// connection, or returns an error when timeout passes without any command; it returns the
// names of the commands read. A reset counts as a close: a client that closes its socket
// before it has read everything the transcript sent makes the kernel send RST instead of FIN.
func (r *Replay) Drain(timeout time.Duration) ([]string, error) {
	if r.rd == nil {
		return nil, errors.New("transcript: Drain before Serve")
	}
	conn, rd := r.conn, r.rd
	var names []string
	for {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		c, err := rd.ReadCommand()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.ECONNRESET) {
				return names, nil
			}
			return names, err
		}
		names = append(names, c.Name)
	}
}
