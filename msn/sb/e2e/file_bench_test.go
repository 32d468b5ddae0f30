package e2e

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// genReader gives n pseudo-random bytes without holding them.
func genReader(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{1, 2, 3}), n)
}

// heapPeak samples the heap in use until stop is called and returns the highest value seen
// above the level at the start.
func heapPeak() (stop func() uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// transferSetup logs alice and bob in on MSNP12 with bob accepting files into a hash.
func transferSetup(tb testing.TB) (send func(ctx context.Context, n int64) error, s *sink) {
	srv := startServer(tb, "alice@example.com", "bob@example.com")
	s = newSink()
	alice := login(tb, srv, 12, "alice@example.com", 1)
	loginWith(tb, srv, 12, "bob@example.com", 2, accepting(s, nil))
	return func(ctx context.Context, n int64) error {
		return alice.mgr.SendFile(ctx, "bob@example.com", "big.bin", n, genReader(n))
	}, s
}

// TestFileTransferStreams: a 24 MiB file goes through the fake server with the heap of both
// clients (sender and receiver in this process) never 12 MiB above where it started: the file
// is streamed, never held whole on either side.
func TestFileTransferStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("a 24 MiB transfer")
	}
	const size = 24 << 20
	send, s := transferSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*waitLimit)
	defer cancel()
	stop := heapPeak()
	if err := send(ctx, size); err != nil {
		t.Fatal(err)
	}
	tr := s.received(t)
	peak := stop()
	want := sha256.New()
	if _, err := io.Copy(want, genReader(size)); err != nil {
		t.Fatal(err)
	}
	if sum, n := s.sum(tr); n != size || string(sum[:]) != string(want.Sum(nil)) {
		t.Fatalf("received %d bytes with another SHA-256", n)
	}
	if peak > 12<<20 {
		t.Fatalf("heap grew by %d MiB during a %d MiB transfer", peak>>20, size>>20)
	}
	t.Logf("heap peak +%.1f MiB for a %d MiB file", float64(peak)/(1<<20), size>>20)
}

// BenchmarkFileTransfer10MB sends a 10 MB file between two msn clients through the fake
// server's switchboard (MSNP12, P2Pv1, 1202-byte chunks): MB/s, and the peak heap growth of
// both clients during the transfer ("peak-heap-MB"; the file is streamed, not held).
func BenchmarkFileTransfer10MB(b *testing.B) {
	const size = 10_000_000
	send, s := transferSetup(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.SetBytes(size)
	var peak uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stop := heapPeak()
		if err := send(ctx, size); err != nil {
			b.Fatal(err)
		}
		if tr := s.received(b); tr.Err() != nil {
			b.Fatal(tr.Err())
		}
		peak = max(peak, stop())
	}
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
}
