package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Secret records: a version byte, the 12-byte GCM nonce, then the sealed
// map (the record map encoding of codec.go). The customer's name is bound
// as additional data, so a record moved to another customer fails to open.
const (
	secretRecordVersion = 1
	secretKeyBytes      = 32 // AES-256
	secretAADPrefix     = "agentvdc/state/secrets/v1\x00"
)

// cipherFor returns the secrets cipher, reading the key file, or creating
// it (0600, 32 random bytes as hex) when create is set and it is missing.
func (s *Store) cipherFor(create bool) (cipher.AEAD, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.aead != nil {
		return s.aead, nil
	}
	key, err := s.readKey()
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err = s.createKey()
	}
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSecretsKey, s.keyFile, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSecretsKey, s.keyFile, err)
	}
	s.aead = aead
	return aead, nil
}

func (s *Store) readKey() ([]byte, error) {
	f, err := os.Open(s.keyFile)
	if err != nil {
		return nil, err // fs.ErrNotExist is handled by the caller
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSecretsKey, s.keyFile, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: key file %s has mode %s; it must not be accessible by group or others (chmod 600)", ErrSecretsKey, s.keyFile, fi.Mode().Perm())
	}
	buf := make([]byte, 2*secretKeyBytes+2)
	n, _ := f.Read(buf)
	key, err := hex.DecodeString(strings.TrimSpace(string(buf[:n])))
	if err != nil || len(key) != secretKeyBytes {
		return nil, fmt.Errorf("%w: key file %s is not %d hex-encoded bytes", ErrSecretsKey, s.keyFile, secretKeyBytes)
	}
	return key, nil
}

func (s *Store) createKey() ([]byte, error) {
	key := make([]byte, secretKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("%w: generate key: %w", ErrSecretsKey, err)
	}
	f, err := os.OpenFile(s.keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return s.readKey() // created meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("%w: create key file: %w", ErrSecretsKey, err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(s.keyFile)
		return nil, fmt.Errorf("%w: write key file %s: %w", ErrSecretsKey, s.keyFile, err)
	}
	s.log.Info("secrets key file created", "path", s.keyFile)
	return key, nil
}

func secretAAD(customer string) []byte { return []byte(secretAADPrefix + customer) }

// PutSecrets stores a customer's secrets (replacing the previous set),
// encrypted with AES-256-GCM under the key file. Neither keys nor values
// appear in errors or logs.
func (s *Store) PutSecrets(customer string, secrets map[string]string) error {
	if err := validName("customer name", customer); err != nil {
		return err
	}
	if len(secrets) == 0 {
		return invalid("secrets of customer %q: empty set (use DeleteSecrets)", customer)
	}
	for k := range secrets {
		if k == "" {
			return invalid("secrets of customer %q: a secret has an empty name", customer)
		}
	}
	aead, err := s.cipherFor(true)
	if err != nil {
		return fmt.Errorf("store secrets of customer %q: %w", customer, err)
	}
	plain := appendMap(nil, secrets)
	defer clear(plain)
	rec := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	rec[0] = secretRecordVersion
	if _, err := rand.Read(rec[1:]); err != nil {
		return fmt.Errorf("store secrets of customer %q: nonce: %w", customer, err)
	}
	rec = aead.Seal(rec, rec[1:], plain, secretAAD(customer))
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSecrets)).Put([]byte(customer), rec)
	})
	if err != nil {
		return fmt.Errorf("store secrets of customer %q: %w", customer, err)
	}
	return nil
}

// Secrets returns a customer's secrets, or ErrNotFound. There is no
// listing of secrets: callers ask for one customer at a time.
func (s *Store) Secrets(customer string) (map[string]string, error) {
	var rec []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucketSecrets)).Get([]byte(customer)); v != nil {
			rec = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read secrets of customer %q: %w", customer, err)
	}
	if rec == nil {
		return nil, fmt.Errorf("secrets of customer %q: %w", customer, ErrNotFound)
	}
	aead, err := s.cipherFor(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secrets of customer %q: %w: key file %s is missing, the stored secrets cannot be decrypted (restore it from backup)", customer, ErrSecretsKey, s.keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets of customer %q: %w", customer, err)
	}
	ns := aead.NonceSize()
	if len(rec) < 1+ns || rec[0] != secretRecordVersion {
		return nil, fmt.Errorf("secrets of customer %q: malformed record", customer)
	}
	plain, err := aead.Open(nil, rec[1:1+ns], rec[1+ns:], secretAAD(customer))
	if err != nil {
		hint := ""
		if _, serr := os.Stat(s.keyFile + ".new"); serr == nil {
			hint = "; " + s.keyFile + ".new exists: a key rotation was interrupted after the secrets were re-encrypted, move it over " + s.keyFile
		}
		return nil, fmt.Errorf("secrets of customer %q: %w: decryption failed (wrong key file %s, or the record was altered)%s", customer, ErrSecretsKey, s.keyFile, hint)
	}
	defer clear(plain)
	r := &reader{s: string(plain)}
	m := (&decoder{intern: map[string]string{}}).decodeMap(r, false)
	if r.err != nil || len(r.s) != 0 {
		return nil, fmt.Errorf("secrets of customer %q: malformed plaintext", customer)
	}
	if m == nil {
		m = map[string]string{}
	}
	return m, nil
}

// DeleteSecrets removes a customer's secrets (when the customer is gone).
// Deleting missing secrets is not an error.
func (s *Store) DeleteSecrets(customer string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSecrets)).Delete([]byte(customer))
	})
	if err != nil {
		return fmt.Errorf("delete secrets of customer %q: %w", customer, err)
	}
	return nil
}
