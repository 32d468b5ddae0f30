package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"
	"sync"
	"unsafe"
)

// Direction says which side sent the bytes a [Reader] parses; TrID and payload rules differ.
type Direction int

const (
	// FromServer parses what an NS or SB server sends to a client.
	FromServer Direction = iota
	// FromClient parses what a client sends to a server (used by the fake server in tests).
	FromClient
)

// Default bounds for a Reader.
const (
	// DefaultMaxLine is the longest command line accepted, CRLF excluded. SSO tickets and
	// URL-encoded MSNObjects make lines of a few KiB; 16 KiB leaves room without waste.
	DefaultMaxLine = 16 << 10
	// DefaultMaxPayload is the largest payload accepted. Real payloads are at most a few
	// tens of KiB (initial ADL lists are split at 7500 bytes, SB MSG is capped at 1664).
	DefaultMaxPayload = 1 << 20
)

// Limits bounds what a Reader accepts. Zero fields take the defaults.
type Limits struct {
	// MaxLine is the longest command line accepted, CRLF excluded (default [DefaultMaxLine]).
	MaxLine int
	// MaxPayload is the largest payload accepted (default [DefaultMaxPayload]).
	MaxPayload int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxPayload <= 0 {
		l.MaxPayload = DefaultMaxPayload
	}
	return l
}

// Reader reads commands from a stream. It is not safe for concurrent use: a connection has one
// reader goroutine.
//
// Memory: the read buffer starts at [initialBuffer] bytes and grows (up to MaxLine+2) only for
// a longer command line, going back to the small size once that line is consumed; payloads are
// read straight into the command. Each command is one allocation of about its own size (see
// [newCommandBlock]) for up to 10 arguments and [maxBlockBytes] of name, arguments and payload.
type Reader struct {
	rd     io.Reader
	buf    []byte // buf[r:w] is buffered, unread input
	r, w   int
	scan   int // buf[r:scan] holds no '\n'
	err    error
	dir    Direction
	limits Limits
}

// initialBuffer is the read buffer of an idle connection: most command lines are shorter.
const initialBuffer = 1024

// NewReader returns a Reader of commands sent by dir, bounded by limits.
func NewReader(r io.Reader, dir Direction, limits Limits) *Reader {
	return &Reader{rd: r, dir: dir, limits: limits.withDefaults()}
}

// nextLine returns the next line without its line end (trailing CRs and LFs). When split is
// true, sp holds the line's fields, found in the same pass over the bytes as the line end: the
// usual case of a buffer holding the whole line. Otherwise sp is empty and err is readLine's.
func (r *Reader) nextLine(sp *lineSpans) (line []byte, split bool, err error) {
	if r.r == r.w && r.err == nil {
		// Nothing buffered (a connection gets one command per read, often): read first, so
		// that the search for the line end splits the line too.
		r.fill()
	}
	if r.scan == r.r && r.r < r.w {
		nl, ok := splitLine(r.buf[r.r:r.w], sp)
		if nl >= 0 {
			line = r.buf[r.r : r.r+nl]
			r.r += nl + 1
			r.scan = r.r
			if !ok {
				sp.n = 0 // too many fields: the caller takes the slow path
			}
			return trimLineEnd(line), ok, nil
		}
		if ok {
			r.scan = r.w // none of the buffered bytes is a '\n'
		}
		sp.n = 0
	}
	line, err = r.readLine()
	if err != nil {
		return line, false, err // a partial line at EOF is reported as such, CRs and all
	}
	return trimLineEnd(line), false, nil
}

// trimLineEnd drops trailing CRs and LFs: what bytes.TrimRight(line, "\r\n") does, without
// its set.
func trimLineEnd(line []byte) []byte {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	return line
}

// errLineTooLong is readLine's signal that a line exceeds the limit.
var errLineTooLong = errors.New("line too long")

// readLine returns the next line including its '\n'; the slice is valid until the next read.
// At EOF with a partial line it returns the partial line and the error.
func (r *Reader) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.scan:r.w], '\n'); i >= 0 {
			end := r.scan + i + 1
			line := r.buf[r.r:end]
			r.r, r.scan = end, end
			return line, nil
		}
		r.scan = r.w
		if r.err != nil {
			// Like bufio: the error is reported once (a read deadline may be extended and
			// reading resumed), with what was buffered.
			line, err := r.buf[r.r:r.w], r.err
			r.r, r.scan, r.err = r.w, r.w, nil
			return line, err
		}
		if r.w-r.r >= r.limits.MaxLine+2 {
			return nil, errLineTooLong
		}
		r.fill()
	}
}

// fill reads more input, compacting the buffer or growing it when a line does not fit.
func (r *Reader) fill() {
	switch {
	case r.r == r.w && len(r.buf) > initialBuffer:
		r.buf = nil // a long line was consumed: go back to the small buffer
		r.r, r.w, r.scan = 0, 0, 0
	case r.r > 0:
		n := copy(r.buf, r.buf[r.r:r.w])
		r.scan -= r.r
		r.r, r.w = 0, n
	}
	if r.buf == nil {
		r.buf = make([]byte, min(initialBuffer, r.limits.MaxLine+2))
	}
	if r.w == len(r.buf) {
		grown := make([]byte, min(2*len(r.buf), r.limits.MaxLine+2))
		copy(grown, r.buf[:r.w])
		r.buf = grown
	}
	n, err := r.rd.Read(r.buf[r.w:])
	if n < 0 || n > len(r.buf)-r.w {
		n, err = 0, io.ErrNoProgress
	}
	r.w += n
	if err != nil {
		r.err = err
	}
}

// readFull fills p from the buffer and then the underlying reader.
func (r *Reader) readFull(p []byte) error {
	n := copy(p, r.buf[r.r:r.w])
	r.r += n
	r.scan = max(r.scan, r.r)
	if n == len(p) {
		return nil
	}
	if err := r.err; err != nil {
		r.err = nil
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	_, err := io.ReadFull(r.rd, p[n:])
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// ReadCommand reads the next command. Empty lines are skipped. A *ProtocolError means the
// stream is out of sync or over a bound and the connection must be closed; io.EOF means the
// peer closed cleanly between commands.
func (r *Reader) ReadCommand() (*Command, error) {
	for {
		var sp lineSpans
		line, split, err := r.nextLine(&sp)
		if errors.Is(err, errLineTooLong) {
			return nil, &ProtocolError{Reason: fmt.Sprintf("command line longer than %d bytes", r.limits.MaxLine)}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return nil, &ProtocolError{Reason: "connection closed in the middle of a command line", Err: io.ErrUnexpectedEOF}
			}
			return nil, err
		}
		if len(line) == 0 {
			continue
		}
		if len(line) > r.limits.MaxLine {
			return nil, &ProtocolError{Reason: fmt.Sprintf("command line longer than %d bytes", r.limits.MaxLine)}
		}
		cmd, plen, err := r.parse(line, &sp, split)
		if err != nil {
			return nil, err
		}
		if plen < 0 {
			return cmd, nil
		}
		if err := r.readFull(cmd.Payload); err != nil {
			return nil, &ProtocolError{Command: cmd.Name, Reason: "connection closed in the middle of a payload", Err: err}
		}
		return cmd, nil
	}
}

// maxArgs bounds the arguments parsed in place; lines with more take the slow path.
const maxArgs = 24

// lineSpans holds the fields of a line as offsets, so that parsing in place needs no memory.
type lineSpans struct {
	n     int
	start [maxArgs + 2]int32
	end   [maxArgs + 2]int32
}

func (sp *lineSpans) field(line string, i int) string { return line[sp.start[i]:sp.end[i]] }

// splitLine records in sp the fields of b up to its first '\n', separated by runs of spaces,
// tabs and CRs (see [isSep]), and returns the index of that '\n', or -1 when b holds none. ok
// is false when the line has more fields than sp holds, and the caller takes the slow path:
// the search stops there (nl is -1), unless the field that overflowed ended at the '\n'. It reads b a word at a time: one test per 8 bytes finds the
// bytes below '!', and only those few are looked at one by one.
func splitLine(b []byte, sp *lineSpans) (nl int, ok bool) {
	const (
		low7  = 0x7f7f7f7f7f7f7f7f
		high  = 0x8080808080808080
		toBit = 0x5f5f5f5f5f5f5f5f // b+0x5f reaches 0x80 exactly when b >= '!' (for b < 0x80)
	)
	start := 0 // where the current field began: just after the last separator
	// field ends the current field at p, a separator or the end of the line.
	field := func(p int) bool {
		if p > start {
			if sp.n == len(sp.start) {
				return false
			}
			sp.start[sp.n], sp.end[sp.n] = int32(start), int32(p)
			sp.n++
		}
		start = p + 1
		return true
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		// A byte's high bit is set here when the byte is below '!' (no carry crosses bytes).
		for m := ^(((w & low7) + toBit) | w) & high; m != 0; m &= m - 1 {
			p := i + bits.TrailingZeros64(m)>>3
			switch b[p] {
			case ' ', '\t', '\r':
				if !field(p) {
					return -1, false
				}
			case '\n':
				return p, field(p)
			}
			// Another control byte is part of its field, as ParseLine has it.
		}
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\r':
			if !field(i) {
				return -1, false
			}
		case '\n':
			return i, field(i)
		}
	}
	return -1, field(len(b))
}

// classify finds the name, TrID and payload length among the fields in sp.
func classify(line string, dir Direction, sp *lineSpans) (trid uint32, hasTrID bool, firstArg, plen int, ok bool) {
	if sp.n == 0 {
		return 0, false, 0, -1, false
	}
	name := sp.field(line, 0)
	if len(name) != 3 || !isAlnum(name) {
		return 0, false, 0, -1, false
	}
	firstArg = 1
	noTrID := serverNoTrID
	if dir == FromClient {
		noTrID = clientNoTrID
	}
	if !noTrID(name) && sp.n > 1 {
		if v, isNum := parseUint32(sp.field(line, 1)); isNum {
			trid, hasTrID, firstArg = v, true, 2
		} else if dir == FromClient || IsDigits(sp.field(line, 1)) && serverPayload(name) {
			return 0, false, 0, -1, false // the slow path says why
		}
	}
	nargs := sp.n - firstArg
	if nargs == 0 {
		return trid, hasTrID, firstArg, -1, true
	}
	last := sp.field(line, sp.n-1)
	if !hasPayloadFor(name, hasTrID, nargs, sp.field(line, firstArg), last, dir) {
		return trid, hasTrID, firstArg, -1, true
	}
	n, isNum := parseLength(last)
	if !isNum {
		return 0, false, 0, -1, false
	}
	return trid, hasTrID, firstArg, n, true
}

// parse parses line (in the read buffer) into a command that owns a copy of its name and
// arguments and room for the payload, in one allocation. It parses the line in place first,
// into offsets on the stack, to learn the sizes; malformed lines take the slow path, which
// builds the error.
func (r *Reader) parse(line []byte, sp *lineSpans, split bool) (*Command, int, error) {
	if !split {
		if _, ok := splitLine(line, sp); !ok {
			return r.parseSlow(line)
		}
	}
	trid, hasTrID, firstArg, plen, ok := classify(unsafe.String(unsafe.SliceData(line), len(line)), r.dir, sp)
	if !ok {
		return r.parseSlow(line)
	}
	if plen > r.limits.MaxPayload {
		return nil, -1, &ProtocolError{Command: string(line[sp.start[0]:sp.end[0]]), Reason: fmt.Sprintf("payload of %d bytes exceeds the limit of %d", plen, r.limits.MaxPayload)}
	}
	nargs := sp.n - firstArg
	if plen >= 0 {
		nargs-- // the length
	}
	// The command keeps the name and the stretch of the line from its first to its last
	// argument: the TrID and the payload length are parsed already.
	name := line[sp.start[0]:sp.end[0]]
	var argBytes []byte
	if nargs > 0 {
		argBytes = line[sp.start[firstArg]:sp.end[firstArg+nargs-1]]
	}
	text := len(name) + len(argBytes)
	cmd, argv, buf := newCommandBlock(nargs, text+max(plen, 0))
	copy(buf, name)
	copy(buf[len(name):], argBytes)
	// The name and arguments are strings over the command's own copy, which is never written
	// again.
	own := unsafe.String(unsafe.SliceData(buf), text)
	cmd.Name = own[:len(name)]
	cmd.TrID, cmd.HasTrID = trid, hasTrID
	if nargs > 0 {
		shift := int(sp.start[firstArg]) - len(name) // from offsets in line to offsets in own
		for i := range nargs {
			argv[i] = own[int(sp.start[firstArg+i])-shift : int(sp.end[firstArg+i])-shift]
		}
		cmd.Args = argv[:nargs:nargs] // an append by a caller must not write into the block
	}
	if plen >= 0 {
		cmd.HasPayload = true
		cmd.Payload = buf[text : text+plen : text+plen]
	}
	return cmd, plen, nil
}

// parseSlow parses a line with many arguments: a copy of the line, the command and its payload
// are separate allocations.
func (r *Reader) parseSlow(line []byte) (*Command, int, error) {
	cmd, plen, err := ParseLine(string(line), r.dir)
	if err != nil {
		return nil, -1, err
	}
	if plen > r.limits.MaxPayload {
		return nil, -1, &ProtocolError{Command: cmd.Name, Reason: fmt.Sprintf("payload of %d bytes exceeds the limit of %d", plen, r.limits.MaxPayload)}
	}
	if plen >= 0 {
		cmd.HasPayload = true
		cmd.Payload = make([]byte, plen)
	}
	return cmd, plen, nil
}

// Command blocks: a Command, its argument array and its bytes (name, arguments, payload) in one
// allocation. Each allocation costs in proportion to its size (zeroing, and above all the
// garbage collections and page faults it brings), so blocks come in many sizes close to what
// a command needs: argument arrays of [blockArgCaps] strings, byte arrays of [blockByteCaps]
// bytes. The byte sizes are 8 modulo 16, as is the size of a Command plus 1, 2, 5 or 10 string
// headers, so that a block up to 256 bytes fills its malloc size class exactly. Commands with
// more arguments or bytes take two or three allocations.
type commandBlock[A blockArgs, B any] struct {
	cmd  Command
	args A
	buf  B // always a [N]byte: see blocksWith
}

// blockArgs are the argument arrays of command blocks; see [blockArgCaps].
type blockArgs interface {
	[1]string | [2]string | [5]string | [10]string
}

// newBlock allocates a commandBlock and returns its parts.
func newBlock[A blockArgs, B any]() (*Command, []string, []byte) {
	b := new(commandBlock[A, B])
	return &b.cmd, unsafe.Slice(&b.args[0], len(b.args)), unsafe.Slice((*byte)(unsafe.Pointer(&b.buf)), unsafe.Sizeof(b.buf))
}

// blockAlloc allocates one kind of command block.
type blockAlloc func() (*Command, []string, []byte)

// blockByteCaps are the byte arrays of command blocks, smallest first; blocksWith lists the
// blocks in this order. Up to 512 bytes, size classes are 16 or 32 bytes apart and these sizes
// (8 modulo 16, as a Command plus 1, 2, 5 or 10 string headers) fill them exactly. Above, size
// classes are 64 bytes apart and more, a block carries an 8-byte malloc header, and these
// sizes fit a Command and 2 strings exactly.
var blockByteCaps = [...]int{
	8, 24, 40, 56, 72, 88, 104, 120, 136, 152, 168, 184,
	200, 216, 232, 248, 264, 280, 296, 312, 328, 344, 360, 376,
	392, 408, 424, 464, 528, 592, 656, 784, 912, 1040, 1296, 1680, maxBlockBytes,
}

// blocksWith lists the blocks with the argument array A, as [blockByteCaps]. Every byte array
// type here must be a [N]byte: newBlock views it as one.
func blocksWith[A blockArgs]() [len(blockByteCaps)]blockAlloc {
	return [...]blockAlloc{
		newBlock[A, [8]byte], newBlock[A, [24]byte], newBlock[A, [40]byte], newBlock[A, [56]byte], newBlock[A, [72]byte],
		newBlock[A, [88]byte], newBlock[A, [104]byte], newBlock[A, [120]byte], newBlock[A, [136]byte], newBlock[A, [152]byte],
		newBlock[A, [168]byte], newBlock[A, [184]byte], newBlock[A, [200]byte], newBlock[A, [216]byte], newBlock[A, [232]byte],
		newBlock[A, [248]byte], newBlock[A, [264]byte], newBlock[A, [280]byte], newBlock[A, [296]byte], newBlock[A, [312]byte],
		newBlock[A, [328]byte], newBlock[A, [344]byte], newBlock[A, [360]byte], newBlock[A, [376]byte], newBlock[A, [392]byte],
		newBlock[A, [408]byte], newBlock[A, [424]byte], newBlock[A, [464]byte], newBlock[A, [528]byte], newBlock[A, [592]byte],
		newBlock[A, [656]byte], newBlock[A, [784]byte], newBlock[A, [912]byte], newBlock[A, [1040]byte], newBlock[A, [1296]byte],
		newBlock[A, [1680]byte], newBlock[A, [maxBlockBytes]byte],
	}
}

// maxBlockBytes is the most bytes a command block holds: an SB MSG (payload at most 1664
// bytes) fits.
const maxBlockBytes = 1936

var (
	// blockArgCaps are the argument arrays of command blocks; blocks[i] have blockArgCaps[i]
	// arguments.
	blockArgCaps = [...]int{1, 2, 5, 10}
	blocks       = [len(blockArgCaps)][len(blockByteCaps)]blockAlloc{
		blocksWith[[1]string](), blocksWith[[2]string](), blocksWith[[5]string](), blocksWith[[10]string](),
	}
	// blockForBytes[(n+7)/8] is the index of the smallest block holding n bytes (the byte
	// sizes are multiples of 8).
	blockForBytes = func() (idx [maxBlockBytes/8 + 1]uint8) {
		for i := range idx {
			for blockByteCaps[idx[i]] < 8*i {
				idx[i]++
			}
		}
		return idx
	}()
)

// newCommandBlock allocates a command with room for nargs arguments (the returned slice, of at
// least nargs strings) and n bytes (the returned buffer, of exactly n bytes).
func newCommandBlock(nargs, n int) (*Command, []string, []byte) {
	k := 0
	for k < len(blockArgCaps) && blockArgCaps[k] < nargs {
		k++
	}
	if k == len(blockArgCaps) {
		// More arguments than any block holds (up to maxArgs): rare, e.g. a long CVR.
		return new(Command), make([]string, nargs), make([]byte, n)
	}
	if n > maxBlockBytes {
		// A large payload (an initial ADL, a GCF policy): its own allocation.
		cmd, argv, _ := blocks[k][0]()
		return cmd, argv, make([]byte, n)
	}
	cmd, argv, buf := blocks[k][blockForBytes[(n+7)/8]]()
	return cmd, argv, buf[:n:n]
}

// serverNoTrID reports server commands that never carry a TrID.
func serverNoTrID(name string) bool {
	switch name {
	case "NLN", "FLN", "UBX", "BPR", "RNG", "JOI", "BYE", "QNG", "NOT", "UBN", "IPG", "OUT", "UBM", "MSG", "NFY":
		return true
	}
	return false
}

// serverPayload reports server commands whose last argument is a payload length.
func serverPayload(name string) bool {
	switch name {
	case "MSG", "NOT", "IPG", "GCF", "UBX", "UBN", "UBM", "ADL", "RML", "FQY", "NFY", "SDG", "PUT", "DEL":
		return true
	}
	return false
}

// clientNoTrID reports client commands that never carry a TrID.
func clientNoTrID(name string) bool { return name == "PNG" || name == "OUT" }

// clientPayload reports client commands whose last argument is a payload length.
func clientPayload(name string) bool {
	switch name {
	case "MSG", "QRY", "UUX", "ADL", "RML", "FQY", "UUN", "UUM", "PUT", "DEL", "SDG", "VAS", "SDC", "PAG", "PGD", "NOT":
		return true
	}
	return false
}

// ParseLine parses one command line (without CRLF) sent by dir. It returns the command and
// the payload length that follows the line, or -1 when the command has no payload.
func ParseLine(line string, dir Direction) (*Command, int, error) {
	cmd := &Command{Args: make([]string, 0, 8)}
	n, err := parseInto(cmd, line, dir)
	if err != nil {
		return nil, -1, err
	}
	if len(cmd.Args) == 0 {
		cmd.Args = nil
	}
	return cmd, n, nil
}

// parseInto parses line into cmd, appending the arguments to cmd.Args. It returns the payload
// length, or -1 when the command has no payload.
func parseInto(cmd *Command, line string, dir Direction) (int, error) {
	rest, name, ok := nextField(line)
	if !ok {
		return -1, &ProtocolError{Reason: "empty command line"}
	}
	if len(name) != 3 || !isAlnum(name) {
		return -1, &ProtocolError{Reason: fmt.Sprintf("malformed command code %q", truncate(name, 16))}
	}
	cmd.Name = name
	for {
		var f string
		if rest, f, ok = nextField(rest); !ok {
			break
		}
		cmd.Args = append(cmd.Args, f)
	}
	noTrID := serverNoTrID
	if dir == FromClient {
		noTrID = clientNoTrID
	}
	if !noTrID(name) && len(cmd.Args) > 0 {
		if v, ok := parseUint32(cmd.Args[0]); ok {
			cmd.TrID = v
			cmd.HasTrID = true
			cmd.Args = cmd.Args[:copy(cmd.Args, cmd.Args[1:])]
		} else if dir == FromServer && IsDigits(cmd.Args[0]) && serverPayload(name) {
			// A TrID past 2^32 - 1 of a payload command: taken as an argument, it could be
			// read as the payload length and the command framed differently ("GCF 00000000000").
			// Elsewhere a long number there is an argument: MSNP10-12 send "LSG <name> <guid>"
			// without a TrID, and a group may be named 12345678901.
			return -1, &ProtocolError{Command: name, Reason: fmt.Sprintf("transaction id %q out of range", truncate(cmd.Args[0], 16))}
		} else if dir == FromClient {
			return -1, &ProtocolError{Command: name, Reason: fmt.Sprintf("non-numeric transaction id %q", truncate(cmd.Args[0], 16))}
		}
	}
	if !hasPayload(cmd, dir) {
		return -1, nil
	}
	last := cmd.Args[len(cmd.Args)-1]
	n, ok := parseLength(last)
	if !ok {
		return -1, &ProtocolError{Command: name, Reason: fmt.Sprintf("bad payload length %q", truncate(last, 16))}
	}
	cmd.Args = cmd.Args[:len(cmd.Args)-1]
	return n, nil
}

// parseUint32 parses a decimal TrID: digits only, at most math.MaxUint32.
func parseUint32(s string) (uint32, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return uint32(v), v <= math.MaxUint32
}

// parseLength parses a decimal payload length: digits only, fitting an int.
func parseLength(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func hasPayload(cmd *Command, dir Direction) bool {
	if len(cmd.Args) == 0 {
		return false
	}
	return hasPayloadFor(cmd.Name, cmd.HasTrID, len(cmd.Args), cmd.Args[0], cmd.Args[len(cmd.Args)-1], dir)
}

// hasPayloadFor reports whether a command with these parts (nargs > 0 arguments after the
// TrID, the first and the last of them) ends with a payload length.
func hasPayloadFor(name string, hasTrID bool, nargs int, first, last string, dir Direction) bool {
	if isErrorCode(name) {
		// An error with a numeric parameter after the TrID carries a payload (241, 509, FQY).
		return dir == FromServer && hasTrID && IsDigits(first) && nargs == 1
	}
	if dir == FromClient {
		return clientPayload(name)
	}
	if !serverPayload(name) {
		return false
	}
	switch name {
	case "ADL", "RML", "FQY", "PUT", "DEL", "SDG", "GCF":
		// "ADL 5 OK", "GCF 3 Shields.xml" (request echo) carry none.
		return IsDigits(last)
	}
	return true
}

// nextField returns the first field of s and what follows it. Fields are separated by runs of
// spaces (the server emits exactly one; be tolerant); tabs and stray CRs separate too, so that
// no parsed argument holds a control separator.
func nextField(s string) (rest, field string, ok bool) {
	i := 0
	for i < len(s) && isSep(s[i]) {
		i++
	}
	if i == len(s) {
		return "", "", false
	}
	j := i + 1
	for j < len(s) && !isSep(s[j]) {
		j++
	}
	return s[j:], s[i:j], true
}

func isSep(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Writer serialises commands onto a stream; it is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	buf  bytes.Buffer
	keep int // the largest encoding buffer kept between commands; 0: any
}

// NewWriter returns a Writer on w. It keeps its encoding buffer between commands, so it grows
// to the longest command written.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// NewWriterKeeping returns a Writer on w that keeps its encoding buffer between commands only
// while it holds at most keep bytes: a longer command's buffer is let go once it is written. For
// long-lived, mostly idle connections, whose few long commands (a login's ticket, an initial
// contact list) should not stay in memory.
func NewWriterKeeping(w io.Writer, keep int) *Writer { return &Writer{w: w, keep: keep} }

// WriteCommand writes one command atomically. A command whose name or arguments would break
// the line framing (a space, CR or LF inside an argument, a malformed name) is refused with a
// *ProtocolError and nothing is written, so that no caller can inject a second command.
func (w *Writer) WriteCommand(c *Command) error {
	if err := c.checkFraming(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Reset()
	c.appendTo(&w.buf)
	_, err := w.w.Write(w.buf.Bytes())
	if w.keep > 0 && w.buf.Cap() > w.keep {
		w.buf = bytes.Buffer{}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", c.Name, err)
	}
	return nil
}

// checkFraming reports whether c can be written as one well-formed line.
func (c *Command) checkFraming() error {
	if len(c.Name) != 3 || !isAlnum(c.Name) {
		return &ProtocolError{Command: truncate(c.Name, 16), Reason: "refusing to write a malformed command code"}
	}
	for i, a := range c.Args {
		if strings.ContainsAny(a, " \r\n") {
			return &ProtocolError{Command: c.Name, Reason: fmt.Sprintf("refusing to write argument %d: it holds a space, CR or LF", i+1)}
		}
	}
	return nil
}
