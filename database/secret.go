package database

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealVersion prefixes sealed values so that the format can change later.
const sealVersion = "v1:"

// ErrUnsealFailed is returned when a sealed value cannot be opened (wrong key or damaged data).
var ErrUnsealFailed = errors.New("stored password can't be decrypted (was the encryption key changed?)")

// Sealer encrypts secrets at rest with AES-256-GCM.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer makes a Sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("make cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("make GCM: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext with a random nonce; aad binds it to its owner (e.g. the login id).
func (s *Sealer) Seal(plaintext, aad string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("make nonce: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))
	return sealVersion + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad string) (string, error) {
	if len(sealed) < len(sealVersion) || sealed[:len(sealVersion)] != sealVersion {
		return "", ErrUnsealFailed
	}
	raw, err := base64.StdEncoding.DecodeString(sealed[len(sealVersion):])
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", ErrUnsealFailed
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", ErrUnsealFailed
	}
	return string(plain), nil
}
