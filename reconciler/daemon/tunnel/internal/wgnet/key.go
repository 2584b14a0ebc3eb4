package wgnet

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// ErrBadKey is returned for a key that is not 32 bytes of standard
// base64; it never carries the text it was given.
var ErrBadKey = errors.New("not a WireGuard key (44 characters of base64 encoding 32 bytes, as wg genkey prints)")

// ParseKey decodes a base64 key as wg(8) prints it.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != base64.StdEncoding.EncodedLen(len(k)) {
		return k, ErrBadKey
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, ErrBadKey
	}
	copy(k[:], b)
	return k, nil
}

// String is the key's base64 form, as wg(8) prints it.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// Public derives the public key of a private key.
func (k Key) Public() Key {
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		// NewPrivateKey fails only for a length other than 32, which a
		// Key cannot have: unreachable.
		panic("wgnet: X25519 rejected a 32-byte key: " + err.Error())
	}
	return Key(priv.PublicKey().Bytes())
}

// GenerateKey draws a private key from crypto/rand, clamped as wg genkey
// does.
func GenerateKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return k, err
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return k, nil
}
