package auth

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic strings of the MSIDCRL key derivation (ASCII, no terminating NUL).
const (
	mbiHashMagic       = "WS-SecureConversationSESSION KEY HASH"
	mbiEncryptionMagic = "WS-SecureConversationSESSION KEY ENCRYPTION"
)

// MSGRUSRKEY header constants: header size, CBC mode, CALG_3DES, CALG_SHA1, IV and hash lengths.
const (
	mbiHeaderSize = 28
	mbiCryptMode  = 1
	mbiCipherType = 0x6603
	mbiHashType   = 0x8004
	mbiIVLen      = 8
	mbiHashLen    = sha1.Size
)

// maxNonce bounds the nonce MBIBlob accepts; the server sends 64 characters.
const maxNonce = 4096

// MBIBlob computes the MBI_KEY_OLD blob for "USR … SSO S <ticket> <blob>" with a random IV.
// binarySecret is the base64-decoded BinarySecret of the messengerclear.live.com token; nonce
// is the second parameter of "USR … SSO S MBI_KEY_OLD <nonce>" exactly as received (it is used
// as ASCII text, not decoded).
func MBIBlob(binarySecret []byte, nonce string) (string, error) {
	iv := make([]byte, mbiIVLen)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("mbi blob: random iv: %w", err)
	}
	return MBIBlobWithIV(binarySecret, nonce, iv)
}

// MBIBlobWithIV is MBIBlob with a caller-chosen 8-byte IV (for tests and reproducible vectors).
//
// Algorithm (MSIDCRL, as the server verifies it): key2 and key3 are derived from the secret
// with the "…KEY HASH" and "…KEY ENCRYPTION" magics; hash = HMAC-SHA1(key2, nonce); cipher =
// 3DES-CBC(key3, iv, nonce with PKCS#5 padding); blob = base64(28-byte MSGRUSRKEY header ‖ iv ‖
// hash ‖ cipher).
func MBIBlobWithIV(binarySecret []byte, nonce string, iv []byte) (string, error) {
	switch {
	case len(binarySecret) == 0:
		return "", errors.New("mbi blob: empty binary secret")
	case nonce == "":
		return "", errors.New("mbi blob: empty nonce")
	case len(nonce) > maxNonce:
		return "", fmt.Errorf("mbi blob: nonce of %d bytes is too long", len(nonce))
	case len(iv) != mbiIVLen:
		return "", fmt.Errorf("mbi blob: iv must be %d bytes, got %d", mbiIVLen, len(iv))
	}
	key2 := deriveMBIKey(binarySecret, mbiHashMagic)
	key3 := deriveMBIKey(binarySecret, mbiEncryptionMagic)

	mac := hmac.New(sha1.New, key2)
	mac.Write([]byte(nonce))
	hash := mac.Sum(nil)

	block, err := des.NewTripleDESCipher(key3)
	if err != nil {
		return "", fmt.Errorf("mbi blob: 3des key: %w", err)
	}
	padLen := des.BlockSize - len(nonce)%des.BlockSize
	plain := append([]byte(nonce), bytes.Repeat([]byte{byte(padLen)}, padLen)...)
	ciphertext := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, plain)

	out := make([]byte, 0, mbiHeaderSize+len(iv)+len(hash)+len(ciphertext))
	for _, v := range []uint32{mbiHeaderSize, mbiCryptMode, mbiCipherType, mbiHashType, mbiIVLen, mbiHashLen, uint32(len(ciphertext))} {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	out = append(out, iv...)
	out = append(out, hash...)
	out = append(out, ciphertext...)
	return base64.StdEncoding.EncodeToString(out), nil
}

// deriveMBIKey is the WS-SecureConversation P_SHA1-style derivation used by MSIDCRL: 24 bytes,
// h2 ‖ h4[:4] with h1 = HMAC(k, m), h2 = HMAC(k, h1‖m), h3 = HMAC(k, h1), h4 = HMAC(k, h3‖m).
func deriveMBIKey(key []byte, magic string) []byte {
	sum := func(parts ...[]byte) []byte {
		m := hmac.New(sha1.New, key)
		for _, p := range parts {
			m.Write(p)
		}
		return m.Sum(nil)
	}
	mg := []byte(magic)
	h1 := sum(mg)
	h2 := sum(h1, mg)
	h3 := sum(h1)
	h4 := sum(h3, mg)
	return append(h2, h4[:4]...)
}
