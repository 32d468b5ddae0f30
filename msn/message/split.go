package message

import (
	"unicode"
	"unicode/utf8"
)

// MaxSBPayload is the largest MSG payload a switchboard accepts (Escargot closes the
// connection on more; quirks transcript: 1712 bytes).
const MaxSBPayload = 1664

// TextBodyLimit returns how many body bytes a text payload with format f may carry so that the
// whole payload stays within maxPayload bytes.
func TextBodyLimit(f Format, maxPayload int) int {
	return maxPayload - len(textHeader(f))
}

// SplitTextPayload splits text into pieces that each make a [TextPayload] (with format f) of at
// most maxPayload bytes; see [SplitText].
func SplitTextPayload(text string, f Format, maxPayload int) []string {
	return SplitText(text, TextBodyLimit(f, maxPayload))
}

// SplitText cuts text into pieces whose wire size — after [TextPayload] turns line breaks into
// CRLF — is at most maxBytes each, and whose concatenation is text. Cuts fall on UTF-8 rune
// boundaries, never inside a CRLF pair nor (when avoidable) inside an emoji sequence or before a
// combining mark, and preferably just after whitespace when that keeps a piece at least half
// full. A piece exceeds maxBytes only when maxBytes is smaller than a single character. An empty
// text gives no pieces.
func SplitText(text string, maxBytes int) []string {
	return split(text, maxBytes, true)
}

func split(text string, maxBytes int, preferSpace bool) []string {
	if maxBytes < 1 {
		maxBytes = 1
	}
	var out []string
	for len(text) > 0 {
		if wireLen(text) <= maxBytes {
			out = append(out, text)
			break
		}
		end, cut, space := 0, 0, 0 // byte offsets: last fitting unit end, last good boundary, last end-of-whitespace
		size := 0
		for i := 0; i < len(text); {
			n, w, ws := unitAt(text, i)
			if size+w > maxBytes {
				break
			}
			size += w
			i += n
			end = i
			if goodBoundary(text, i) {
				cut = i
				if ws {
					space = i
				}
			}
		}
		switch {
		case end == 0: // not even one character fits: take one anyway to make progress
			n, _, _ := unitAt(text, 0)
			cut = n
		case cut == 0:
			cut = end
		case preferSpace && space > 0 && space*2 >= cut:
			cut = space
		}
		out = append(out, text[:cut])
		text = text[cut:]
	}
	return out
}

// unitAt returns the byte length, wire length and whitespace-ness of the unit starting at i: a
// CRLF pair, a lone CR or LF (both sent as CRLF), or one rune (an invalid byte counts as one).
func unitAt(s string, i int) (n, w int, space bool) {
	switch s[i] {
	case '\r':
		if i+1 < len(s) && s[i+1] == '\n' {
			return 2, 2, true
		}
		return 1, 2, true
	case '\n':
		return 1, 2, true
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return n, n, unicode.IsSpace(r)
}

// wireLen is len(crlf(s)) without building it.
func wireLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		l, w, _ := unitAt(s, i)
		i += l
		n += w
	}
	return n
}

// goodBoundary reports whether cutting s at byte i keeps what a reader sees as one character
// (emoji ZWJ sequences, modifiers, variation selectors, combining marks, flags) in one piece.
func goodBoundary(s string, i int) bool {
	if i <= 0 || i >= len(s) {
		return true
	}
	next, _ := utf8.DecodeRuneInString(s[i:])
	prev, _ := utf8.DecodeLastRuneInString(s[:i])
	if prev == '\u200d' || isExtender(next) {
		return false
	}
	if isRegional(prev) && isRegional(next) {
		// Regional indicators pair up into flags: cut only after an even count.
		count := 0
		for j := i; j > 0; {
			r, n := utf8.DecodeLastRuneInString(s[:j])
			if !isRegional(r) {
				break
			}
			count++
			j -= n
		}
		return count%2 == 0
	}
	return true
}

func isExtender(r rune) bool {
	switch {
	case r == '\u200d', r >= 0xfe00 && r <= 0xfe0f, r >= 0x1f3fb && r <= 0x1f3ff,
		r >= 0xe0020 && r <= 0xe007f, r >= 0xe0100 && r <= 0xe01ef:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me)
}

func isRegional(r rune) bool { return r >= 0x1f1e6 && r <= 0x1f1ff }
