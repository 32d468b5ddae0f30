package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// sink receives incoming files: AcceptFile hands it out as the writer of each transfer, and
// it reports every transfer on accepted.
type sink struct {
	mu       sync.Mutex
	hashes   map[*p2p.Transfer]hash.Hash
	sizes    map[*p2p.Transfer]int
	accepted chan *p2p.Transfer
	failAt   int // > 0: a write that would pass this many bytes fails
}

func newSink() *sink {
	return &sink{hashes: map[*p2p.Transfer]hash.Hash{}, sizes: map[*p2p.Transfer]int{}, accepted: make(chan *p2p.Transfer, 8)}
}

type sinkWriter struct {
	s *sink
	t *p2p.Transfer
}

func (w sinkWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.failAt > 0 && w.s.sizes[w.t]+len(b) > w.s.failAt {
		return 0, errors.New("disk full")
	}
	w.s.sizes[w.t] += len(b)
	return w.s.hashes[w.t].Write(b)
}

func (s *sink) accept(_ *sb.Conversation, t *p2p.Transfer) io.Writer {
	s.mu.Lock()
	s.hashes[t] = sha256.New()
	s.mu.Unlock()
	s.accepted <- t
	return sinkWriter{s, t}
}

func (s *sink) sum(t *p2p.Transfer) ([32]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [32]byte
	copy(out[:], s.hashes[t].Sum(nil))
	return out, s.sizes[t]
}

// received waits for the sink's next transfer and its end.
func (s *sink) received(t testing.TB) *p2p.Transfer {
	t.Helper()
	select {
	case tr := <-s.accepted:
		select {
		case <-tr.Done():
			return tr
		case <-time.After(waitLimit):
			t.Fatalf("transfer of %s never ended", tr.File.Name)
		}
	case <-time.After(waitLimit):
		t.Fatal("no transfer accepted")
	}
	return nil
}

func accepting(s *sink, tweak func(*sb.Config)) func(*sb.Config) {
	return func(cfg *sb.Config) {
		cfg.AcceptFile = s.accept
		if tweak != nil {
			tweak(cfg)
		}
	}
}

// TestFileTransferThroughFakeServer: alice sends bob a file and bob sends alice one, between
// two msn clients through the fake server's switchboard on MSNP12 and MSNP18 (endpoint GUIDs;
// on 18 bob has a second endpoint in the switchboard that accepts too and gets the same
// copy): each receiver's writer gets the data with the sender's SHA-256, name and size from
// the offer, and each sender's SendFile returns once the data was acknowledged.
func TestFileTransferThroughFakeServer(t *testing.T) {
	for i, v := range []int{12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "alice@example.com", "bob@example.com")
			aliceSink, bobSink, bob2Sink := newSink(), newSink(), newSink()
			alice := loginWith(t, srv, v, "alice@example.com", 3*i+1, accepting(aliceSink, nil))
			bob := loginWith(t, srv, v, "bob@example.com", 3*i+2, accepting(bobSink, nil))
			var bob2 *client
			if v >= 16 {
				bob2 = loginWith(t, srv, v, "bob@example.com", 3*i+3, accepting(bob2Sink, nil))
				send(t, alice.mgr.Conversation("bob@example.com"), "hello")
				for _, b := range []*client{bob, bob2} {
					waitEvent(t, b, func(e *sb.JoinedEvent) bool { return e.Participant.Passport == "alice@example.com" })
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
			defer cancel()

			photo := testPicture(150_000 + 7)
			if err := alice.mgr.SendFile(ctx, "bob@example.com", `C:\pics\photo.jpg`, int64(len(photo)), bytes.NewReader(photo)); err != nil {
				t.Fatal(err)
			}
			sinks := []*sink{bobSink}
			if bob2 != nil {
				sinks = append(sinks, bob2Sink)
			}
			for _, s := range sinks {
				tr := s.received(t)
				if err := tr.Err(); err != nil {
					t.Fatal(err)
				}
				if tr.File.Name != "photo.jpg" || tr.File.Size != uint64(len(photo)) || tr.Peer != "alice@example.com" {
					t.Fatalf("offer %+v from %s", tr.File, tr.Peer)
				}
				if sum, n := s.sum(tr); sum != sha256.Sum256(photo) || n != len(photo) {
					t.Fatalf("received %d bytes with another SHA-256", n)
				}
			}

			doc := testPicture(3000)
			doc[0] = 'x'
			if err := bob.mgr.SendFile(ctx, "alice@example.com", "hello.txt", int64(len(doc)), bytes.NewReader(doc)); err != nil {
				t.Fatal(err)
			}
			tr := aliceSink.received(t)
			if sum, n := aliceSink.sum(tr); tr.Err() != nil || sum != sha256.Sum256(doc) || tr.File.Name != "hello.txt" || n != len(doc) {
				t.Fatalf("alice received %d bytes of %+v: %v", n, tr.File, tr.Err())
			}
		})
	}
}

// TestFileTransferDeclinedAndTooLarge: a receiver that declines (AcceptFile gives nil), and
// one whose size limit the file exceeds, answer 603: the sender's SendFile fails with
// ErrDeclined, and the receiver gets the offer as a ContentEvent whose INVITE names the file
// and its size.
func TestFileTransferDeclinedAndTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*sb.Config)
	}{
		{"declined", func(cfg *sb.Config) {
			cfg.AcceptFile = func(*sb.Conversation, *p2p.Transfer) io.Writer { return nil }
		}},
		{"too large", func(cfg *sb.Config) {
			cfg.AcceptFile = func(*sb.Conversation, *p2p.Transfer) io.Writer {
				panic("a file over the limit reached AcceptFile")
			}
			cfg.P2P.MaxFileSize = 4000
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, "alice@example.com", "bob@example.com")
			alice := login(t, srv, 12, "alice@example.com", 1)
			bob := loginWith(t, srv, 12, "bob@example.com", 2, tc.tweak)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			data := testPicture(5000)
			err := alice.mgr.SendFile(ctx, "bob@example.com", "big.bin", int64(len(data)), bytes.NewReader(data))
			if !errors.Is(err, p2p.ErrDeclined) {
				t.Fatalf("SendFile: %v", err)
			}
			ev := waitEvent(t, bob, func(e *sb.ContentEvent) bool { return e.Kind == message.KindP2P })
			if fi, ok := p2p.FileOfferIn(ev.Message.P2P.Data); !ok || fi.Name != "big.bin" || fi.Size != 5000 {
				t.Fatalf("offer %+v %v", fi, ok)
			}
		})
	}
}

// blockingReader gives the first n bytes of data, then blocks until release is closed (or
// ctx ends) and fails.
type blockingReader struct {
	data    []byte
	n       int
	reached chan struct{}
	release <-chan struct{}
	ctx     context.Context
	once    sync.Once
}

func (r *blockingReader) Read(b []byte) (int, error) {
	if r.n > 0 {
		k := copy(b, r.data[:min(r.n, len(b))])
		r.data, r.n = r.data[k:], r.n-k
		return k, nil
	}
	r.once.Do(func() { close(r.reached) })
	select {
	case <-r.release:
		return 0, errors.New("source gone")
	case <-r.ctx.Done():
		return 0, r.ctx.Err()
	}
}

// TestFileTransferCancelAndTimeout: a sender whose context ends mid-file closes the session
// with BYE and the receiver's transfer ends with ErrClosed; a receiver whose writer fails
// sends BYE and the sender's SendFile fails with ErrClosed; a sender that goes silent
// mid-file is timed out by the receiver after FileTimeout (ErrTimeout), whose BYE ends the
// sender's transfer.
func TestFileTransferCancelAndTimeout(t *testing.T) {
	data := testPicture(20_000)
	setup := func(t *testing.T, bobTweak func(*sb.Config)) (*client, *sink) {
		srv := startServer(t, "alice@example.com", "bob@example.com")
		alice := login(t, srv, 12, "alice@example.com", 1)
		s := newSink()
		loginWith(t, srv, 12, "bob@example.com", 2, accepting(s, bobTweak))
		return alice, s
	}
	t.Run("sender cancels", func(t *testing.T) {
		alice, s := setup(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		sctx, stop := context.WithCancel(ctx)
		r := &blockingReader{data: data, n: 5000, reached: make(chan struct{}), release: make(chan struct{}), ctx: sctx}
		errc := make(chan error, 1)
		go func() { errc <- alice.mgr.SendFile(sctx, "bob@example.com", "a.bin", int64(len(data)), r) }()
		<-r.reached
		stop()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("SendFile: %v", err)
		}
		if tr := s.received(t); !errors.Is(tr.Err(), p2p.ErrClosed) {
			t.Fatalf("receiver: %v", tr.Err())
		}
	})
	t.Run("receiver fails", func(t *testing.T) {
		alice, s := setup(t, nil)
		s.failAt = 3000
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		err := alice.mgr.SendFile(ctx, "bob@example.com", "a.bin", int64(len(data)), bytes.NewReader(data))
		if !errors.Is(err, p2p.ErrClosed) {
			t.Fatalf("SendFile: %v", err)
		}
		if tr := s.received(t); tr.Err() == nil {
			t.Fatal("receiver's transfer succeeded")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		alice, s := setup(t, func(cfg *sb.Config) { cfg.P2P.FileTimeout = 300 * time.Millisecond })
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		release := make(chan struct{})
		r := &blockingReader{data: data, n: 2500, reached: make(chan struct{}), release: release, ctx: ctx}
		errc := make(chan error, 1)
		go func() { errc <- alice.mgr.SendFile(ctx, "bob@example.com", "slow.bin", int64(len(data)), r) }()
		tr := s.received(t)
		if !errors.Is(tr.Err(), p2p.ErrTimeout) {
			t.Fatalf("receiver: %v", tr.Err())
		}
		// The receiver's BYE reaches the sender and ends its transfer while its source still
		// blocks; then the source fails, and SendFile reports the contact's BYE.
		conv := alice.mgr.Conversation("bob@example.com")
		deadline := time.Now().Add(waitLimit)
		for conv.FileTransfers() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the receiver's BYE never ended the sender's transfer")
			}
			time.Sleep(10 * time.Millisecond) // nothing to wait on: the BYE is the sender's own business
		}
		close(release)
		if err := <-errc; !errors.Is(err, p2p.ErrClosed) {
			t.Fatalf("SendFile: %v", err)
		}
	})
}

// TestScriptedContactFiles: a scripted contact of the fake server sends a client a file (the
// client's writer gets its SHA-256), accepts one from the client (ReceivedFiles shows its
// SHA-256), and declines one (the client's SendFile fails with ErrDeclined).
func TestScriptedContactFiles(t *testing.T) {
	for i, v := range []int{12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "carol@example.com", "bob@example.com")
			carol := srv.Contact("carol@example.com")
			if err := carol.SignIn("NLN"); err != nil {
				t.Fatal(err)
			}
			s := newSink()
			bob := loginWith(t, srv, v, "bob@example.com", 20+i, accepting(s, nil))
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			data := testPicture(30_000)
			if err := carol.SendFile(ctx, "bob@example.com", "song.mp3", data); err != nil {
				t.Fatal(err)
			}
			tr := s.received(t)
			if sum, n := s.sum(tr); tr.Err() != nil || sum != sha256.Sum256(data) || n != len(data) || tr.File.Name != "song.mp3" {
				t.Fatalf("bob got %d bytes of %+v: %v", n, tr.File, tr.Err())
			}

			carol.SetFilePolicy(msntest.FilesAccept)
			doc := testPicture(7000)
			if err := bob.mgr.SendFile(ctx, "carol@example.com", "doc.pdf", int64(len(doc)), bytes.NewReader(doc)); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(doc)
			deadline := time.Now().Add(waitLimit)
			for len(carol.ReceivedFiles()) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // nothing to wait on: the contact records asynchronously
			}
			if got := carol.ReceivedFiles(); len(got) != 1 || got[0].SHA256 != hex.EncodeToString(sum[:]) || got[0].Name != "doc.pdf" || got[0].Error != "" {
				t.Fatalf("carol received %+v", got)
			}

			carol.SetFilePolicy(msntest.FilesDecline)
			if err := bob.mgr.SendFile(ctx, "carol@example.com", "doc.pdf", int64(len(doc)), bytes.NewReader(doc)); !errors.Is(err, p2p.ErrDeclined) {
				t.Fatalf("declined: %v", err)
			}
		})
	}
}
