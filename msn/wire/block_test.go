package wire

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestReaderAllocatesWhatACommandNeeds: reading a presence line (with and without a display
// picture), a text message and a personal message costs one allocation, of about what the
// command holds — a Command, its argument strings and its wire bytes — rounded up to a malloc
// size class (at most 1/8 more up to 512 bytes). Allocation size is what a decode costs on a
// busy process: zeroing, garbage collections and page faults grow with it.
func TestReaderAllocatesWhatACommandNeeds(t *testing.T) {
	samples := append(decodeSamples(), decodeSample{"ILN", []byte("ILN 12 NLN 1:bob@example.com Bob 2788999212:48 0\r\n")})
	for _, tc := range samples {
		if len(tc.data) > maxBlockBytes {
			continue // an initial ADL: two allocations
		}
		t.Run(tc.name, func(t *testing.T) {
			next := rereader(tc.data)
			var c *Command
			read := func() {
				var err error
				if c, err = next(); err != nil {
					t.Fatal(err)
				}
			}
			read() // the reader's own buffer
			if n := testing.AllocsPerRun(50, read); n != 1 {
				t.Fatalf("%v allocations per command, want 1", n)
			}
			need := int(unsafe.Sizeof(Command{})) + len(c.Args)*int(unsafe.Sizeof("")) + len(tc.data)
			got := bytesPerCall(100, read)
			if got > need+need/8 {
				t.Fatalf("%d bytes allocated per command, want at most %d (1/8 over the %d it holds)", got, need+need/8, need)
			}
		})
	}
}

// bytesPerCall returns the heap bytes f allocates per call: the least of a few measures, so
// that an allocation elsewhere in the process does not count.
func bytesPerCall(n int, f func()) int {
	best := -1
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			f()
		}
		runtime.ReadMemStats(&after)
		if b := int(after.TotalAlloc-before.TotalAlloc) / n; best < 0 || b < best {
			best = b
		}
	}
	return best
}

// TestCommandBlocks: every block has the argument and byte capacities its tables say (the
// reader slices by them), and newCommandBlock gives exactly the bytes asked and room for the
// arguments, in one allocation up to the block limits, on every path.
func TestCommandBlocks(t *testing.T) {
	for k, row := range blocks {
		for i, alloc := range row {
			_, argv, buf := alloc()
			if len(argv) != blockArgCaps[k] || len(buf) != blockByteCaps[i] {
				t.Fatalf("block [%d][%d] holds %d arguments and %d bytes, the tables say %d and %d", k, i, len(argv), len(buf), blockArgCaps[k], blockByteCaps[i])
			}
			if i > 0 && blockByteCaps[i] <= blockByteCaps[i-1] {
				t.Fatalf("blockByteCaps not increasing at %d", i)
			}
		}
	}
	for _, nargs := range []int{0, 1, 2, 3, 5, 6, 10, 11, maxArgs} {
		for _, n := range []int{0, 1, 7, 8, 9, 56, 57, 200, 424, 425, 1000, maxBlockBytes, maxBlockBytes + 1, 8000} {
			var cmd *Command
			var argv []string
			var buf []byte
			allocs := testing.AllocsPerRun(5, func() { cmd, argv, buf = newCommandBlock(nargs, n) })
			if cmd == nil || len(argv) < nargs || len(buf) != n || cap(buf) != n {
				t.Fatalf("newCommandBlock(%d, %d): %d arguments, %d/%d bytes", nargs, n, len(argv), len(buf), cap(buf))
			}
			if nargs <= blockArgCaps[len(blockArgCaps)-1] && n <= maxBlockBytes && allocs != 1 {
				t.Fatalf("newCommandBlock(%d, %d): %v allocations, want 1", nargs, n, allocs)
			}
		}
	}
}

// TestCommandBlocksFillSizeClasses: a block's allocation is not much bigger than the block —
// the byte sizes are chosen to fill malloc size classes.
func TestCommandBlocksFillSizeClasses(t *testing.T) {
	for k, row := range blocks {
		for i, alloc := range row {
			size := int(unsafe.Sizeof(Command{})) + blockArgCaps[k]*int(unsafe.Sizeof("")) + blockByteCaps[i]
			got := bytesPerCall(20, func() { alloc() })
			if limit := size + size/8 + 8; got > limit {
				t.Errorf("block of %d arguments and %d bytes (%d bytes) takes %d bytes, want at most %d", blockArgCaps[k], blockByteCaps[i], size, got, limit)
			}
		}
	}
}

// TestReaderFastPathFields: the one-allocation path keeps the name and arguments right however
// the line is spaced, with and without a TrID and a payload length.
func TestReaderFastPathFields(t *testing.T) {
	in := "  ILN  7\tNLN  bob@x  Bob \r\n" + "MSG\ta@b  A\t\t3\r\nxyz" + "ADL 12 OK\r\n" + "UBX 1:a@b  0\r\n" + "QNG 50\r\n"
	r := NewReader(strings.NewReader(in), FromServer, Limits{})
	want := []string{"ILN 7 NLN bob@x Bob", "MSG a@b A [3 bytes]", "ADL 12 OK", "UBX 1:a@b [0 bytes]", "QNG 50"}
	var cmds []*Command
	for _, w := range want {
		c, err := r.ReadCommand()
		if err != nil || c.String() != w {
			t.Fatalf("got %v (%v), want %q", c, err, w)
		}
		cmds = append(cmds, c)
	}
	if string(cmds[1].Payload) != "xyz" || cap(cmds[1].Payload) != 3 || cmds[2].Args[0] != "OK" || len(cmds[4].Args) != 1 {
		t.Fatalf("payload %q cap %d, args %q %q", cmds[1].Payload, cap(cmds[1].Payload), cmds[2].Args, cmds[4].Args)
	}
}
