package wire

import "strings"

// EncodeParam URL-encodes a parameter that may hold spaces or non-ASCII text (friendly names,
// group names, MSNObjects). It escapes every byte outside the unreserved set the official
// client leaves alone, so the result never contains spaces, CR, LF or '%' literals.
func EncodeParam(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '!', '*', '\'', '(', ')', '@', ',', ':', ';', '/', '?', '=', '&', '$', '+', '[', ']', '{', '}', '|', '^', '`', '#':
		return true
	}
	return false
}

// DecodeParam URL-decodes a parameter tolerantly: valid %XX escapes are decoded, anything else
// (a lone '%', a bad hex digit) is kept as it is. '+' is kept literally: MSNP does not use it
// for spaces. Invalid UTF-8 after decoding is replaced by U+FFFD.
func DecodeParam(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, okh := unhex(s[i+1])
			l, okl := unhex(s[i+2])
			if okh && okl {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
