package msntest

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// randHex returns n random lower-case hex characters.
func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("msntest: crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)[:n]
}

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("msntest: crypto/rand failed: %v", err))
	}
	return b
}

// randDigits returns n random decimal digits.
func randDigits(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		v, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(fmt.Sprintf("msntest: crypto/rand failed: %v", err))
		}
		sb.WriteByte(byte('0' + v.Int64()))
	}
	return sb.String()
}

// newGUID returns a random lower-case GUID without braces.
func newGUID() string {
	h := randHex(32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// md5Hex returns the lower-case hex MD5 of s.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// escName escapes a friendly name the way Escargot's writer does: only '%', space, CR and LF.
func escName(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "\r", "%0D", "\n", "%0A")
	return r.Replace(s)
}

// quoteAll URL-encodes every byte outside A-Z a-z 0-9 _ . - ~ (Python's quote with no safe
// characters), as used in ADL notification f="…" attributes.
func quoteAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// xmlEsc escapes text for XML element content and attributes.
func xmlEsc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;", "'", "&apos;")
	return r.Replace(s)
}

// normPassport lower-cases and trims a passport name.
func normPassport(p string) string { return strings.ToLower(strings.TrimSpace(p)) }

// splitIdent splits "email;{guid}" into the e-mail and the guid (without braces, lower-case).
func splitIdent(s string) (email, guid string) {
	email, g, ok := strings.Cut(s, ";")
	if !ok {
		return normPassport(email), ""
	}
	return normPassport(email), normGUID(g)
}

// normGUID strips braces and lower-cases a machine GUID.
func normGUID(g string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(g), "{}"))
}

// ---- MBI (MSNP15+ SSO) -------------------------------------------------------------------

func hmacSHA1(key, data []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// deriveKey is the WS-SecureConversation key derivation used by MSIDCRL.
func deriveKey(key []byte, magic string) []byte {
	m := []byte(magic)
	h1 := hmacSHA1(key, m)
	h2 := hmacSHA1(key, append(append([]byte{}, h1...), m...))
	h3 := hmacSHA1(key, h1)
	h4 := hmacSHA1(key, append(append([]byte{}, h3...), m...))
	return append(h2, h4[:4]...)
}

// mbiHeader is the fixed MSGRUSRKEY header (28, CBC, 3DES, SHA1, iv 8, hash 20, cipher 72).
var mbiHeader = []uint32{28, 1, 0x6603, 0x8004, 8, 20, 72}

// verifyMBI checks an MBI blob against the nonce and the base64 BinarySecret, as the server
// does: the header must be the fixed one, and the hash and ciphertext must match its own.
func verifyMBI(secretB64, nonce, blobB64 string) bool {
	secret, err := base64.StdEncoding.DecodeString(secretB64)
	if err != nil || len(secret) == 0 {
		return false
	}
	blob, err := base64.StdEncoding.DecodeString(blobB64)
	if err != nil || len(blob) < 28+8+20 {
		return false
	}
	for i, want := range mbiHeader[:6] {
		if binary.LittleEndian.Uint32(blob[i*4:]) != want {
			return false
		}
	}
	clen := int(binary.LittleEndian.Uint32(blob[24:]))
	if clen != len(blob)-28-8-20 {
		return false
	}
	iv := blob[28:36]
	gotHash := blob[36:56]
	gotCipher := blob[56:]
	key2 := deriveKey(secret, "WS-SecureConversationSESSION KEY HASH")
	key3 := deriveKey(secret, "WS-SecureConversationSESSION KEY ENCRYPTION")
	if !hmac.Equal(gotHash, hmacSHA1(key2, []byte(nonce))) {
		return false
	}
	want, err := tripleDESCBC(key3, iv, []byte(nonce))
	if err != nil {
		return false
	}
	return hmac.Equal(want, gotCipher)
}

// makeMBI builds an MBI blob (used by the tests of this package to log in over raw wire).
func makeMBI(secretB64, nonce string, iv []byte) (string, error) {
	secret, err := base64.StdEncoding.DecodeString(secretB64)
	if err != nil {
		return "", fmt.Errorf("decode binary secret: %w", err)
	}
	key2 := deriveKey(secret, "WS-SecureConversationSESSION KEY HASH")
	key3 := deriveKey(secret, "WS-SecureConversationSESSION KEY ENCRYPTION")
	c, err := tripleDESCBC(key3, iv, []byte(nonce))
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, 28+8+20+len(c))
	for i, v := range mbiHeader {
		if i == 6 {
			v = uint32(len(c))
		}
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	out = append(out, iv...)
	out = append(out, hmacSHA1(key2, []byte(nonce))...)
	out = append(out, c...)
	return base64.StdEncoding.EncodeToString(out), nil
}

// tripleDESCBC encrypts plain with PKCS#5 padding.
func tripleDESCBC(key, iv, plain []byte) ([]byte, error) {
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, fmt.Errorf("3des key: %w", err)
	}
	if len(iv) != block.BlockSize() {
		return nil, fmt.Errorf("3des iv of %d bytes", len(iv))
	}
	pad := 8 - len(plain)%8
	buf := make([]byte, len(plain), len(plain)+pad)
	copy(buf, plain)
	for i := 0; i < pad; i++ {
		buf = append(buf, byte(pad))
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return buf, nil
}

// ---- challenges (CHL/QRY) ----------------------------------------------------------------

// productKeys maps product IDs to their keys, with the highest MSNP each is accepted for.
var productKeys = map[string]struct {
	key    string
	maxVer int
}{
	"msmsgs@msnmsgr.com": {"Q1P7W2E4J9R8U3S5", 10},
	"PROD0038W!61ZTF9":   {"VT6PX?UQTM4WM%YR", 10},
	"PROD0058#7IL2{QD":   {"QHDCY@7R1TB6W?5B", 10},
	"PROD0061VRRZH@4F":   {"JXQ6J@TUOGYV@N0M", 10},
	"PROD00504RLUG%WL":   {"I2EBK%PYNLZL5_J4", 10},
	"PROD0076ENE8*@AW":   {"CEQJ8}OE0!WTSWII", 10},
	"PROD0090YUAUV{2B":   {"YMM8C_H7KCQ2S_KL", 12},
	"PROD0101{0RM?UBW":   {"CFHUR$52U_{VIX5T", 12},
	"PROD01065C%ZFN6F":   {"O4BG@C7BWLYQX?5G", 14},
	"PROD0112J1LW7%NB":   {"RH96F{PHI8PPX_TJ", 14},
	"PROD0113H11T8$X_":   {"RG@XY*28Q5QHS%Q5", 21},
	"PROD0114ES4Z%Q5W":   {"PK}_A_0N_K%O?A9S", 21},
	"PROD0118R6%2WYOS":   {"YIXPX@5I2P0UT*LK", 21},
	"PROD0119GSJUC$18":   {"ILTXC!4IXB5FB*PX", 21},
	"PROD0120PW!CCV9@":   {"C1BX{V4W}Q3*10SM", 21},
}

// challengeAnswer computes the QRY answer for a challenge: the basic MD5 method before
// MSNP11, the MSNP11 hash from MSNP11 on.
func challengeAnswer(ver int, chl, productID, productKey string) string {
	if ver < 11 {
		return md5Hex(chl + productKey)
	}
	return chlHash11(chl, productID, productKey)
}

// chlHash11 is the MSNP11+ challenge hash.
func chlHash11(chl, pid, pkey string) string {
	d := md5.Sum([]byte(chl + pkey))
	const mask = 0x7FFFFFFF
	const magic = 0x0E79A9C1
	var h [4]uint64
	for i := 0; i < 4; i++ {
		h[i] = uint64(binary.LittleEndian.Uint32(d[i*4:])) & mask
	}
	s := chl + pid
	s += strings.Repeat("0", 8-len(s)%8)
	w := make([]uint64, len(s)/4)
	for i := range w {
		w[i] = uint64(binary.LittleEndian.Uint32([]byte(s[i*4:])))
	}
	var hi, lo uint64
	for i := 0; i+1 < len(w); i += 2 {
		t := (w[i] * magic) % mask
		t = (h[0]*(t+hi) + h[1]) % mask
		hi = (w[i+1] + t) % mask
		hi = (h[2]*hi + h[3]) % mask
		lo = lo + hi + t
	}
	hi = (hi + h[1]) % mask
	lo = (lo + h[3]) % mask
	var out [16]byte
	for k := 0; k < 4; k++ {
		a := binary.LittleEndian.Uint32(d[k*4:])
		if k%2 == 0 {
			a ^= uint32(hi)
		} else {
			a ^= uint32(lo)
		}
		binary.LittleEndian.PutUint32(out[k*4:], a)
	}
	return hex.EncodeToString(out[:])
}
