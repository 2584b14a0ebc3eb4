package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RotateResult says what RotateKey did.
type RotateResult struct {
	Customers int    // secrets re-encrypted
	OldKey    string // where the previous key was kept
}

// RotateKey re-encrypts every customer's secrets under a new random key
// in one transaction and puts the new key in place; the previous key is
// kept as KEYFILE.old-TIME, since backups made before the rotation need
// it. The new key is written to KEYFILE.new before the transaction, so an
// interruption leaves either the old state (remove .new) or the new one
// (rename .new over KEYFILE); decryption errors point at it.
func (s *Store) RotateKey(now time.Time) (RotateResult, error) {
	var res RotateResult
	var customers []string
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSecrets)).ForEach(func(k, _ []byte) error {
			customers = append(customers, string(k))
			return nil
		})
	}); err != nil {
		return res, fmt.Errorf("rotate key: %w", err)
	}
	plain := map[string]map[string]string{}
	for _, c := range customers {
		m, err := s.Secrets(c)
		if err != nil {
			return res, fmt.Errorf("rotate key: nothing changed: %w", err)
		}
		plain[c] = m
	}
	if _, err := os.Stat(s.keyFile); len(customers) == 0 && os.IsNotExist(err) {
		return res, fmt.Errorf("rotate key: there is no key file %s and no secrets: nothing to rotate", s.keyFile)
	}
	key := make([]byte, secretKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return res, fmt.Errorf("rotate key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return res, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return res, err
	}
	newFile := s.keyFile + ".new"
	if err := WriteAtomic(newFile, func(w io.Writer) error {
		_, err := w.Write([]byte(hex.EncodeToString(key) + "\n"))
		return err
	}); err != nil {
		return res, fmt.Errorf("rotate key: write %s: %w", newFile, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSecrets))
		for _, c := range customers {
			enc := appendMap(nil, plain[c])
			rec := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(enc)+aead.Overhead())
			rec[0] = secretRecordVersion
			if _, err := rand.Read(rec[1:]); err != nil {
				return err
			}
			rec = aead.Seal(rec, rec[1:], enc, secretAAD(c))
			clear(enc)
			if err := b.Put([]byte(c), rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		os.Remove(newFile)
		return res, fmt.Errorf("rotate key: nothing changed: %w", err)
	}
	res.Customers = len(customers)
	res.OldKey = s.keyFile + ".old-" + now.UTC().Format("20060102T150405Z")
	if _, err := os.Stat(s.keyFile); err == nil {
		if err := os.Rename(s.keyFile, res.OldKey); err != nil {
			return res, fmt.Errorf("rotate key: the secrets are under the new key in %s, but the old key could not be moved aside (%w): move %s to %s by hand", newFile, err, newFile, s.keyFile)
		}
	} else {
		res.OldKey = ""
	}
	if err := os.Rename(newFile, s.keyFile); err != nil {
		return res, fmt.Errorf("rotate key: the secrets are under the new key in %s: move it to %s by hand: %w", newFile, s.keyFile, err)
	}
	_ = syncDir(filepath.Dir(s.keyFile))
	s.keyMu.Lock()
	s.aead = aead
	s.keyMu.Unlock()
	s.log.Info("secrets key rotated", "customers", res.Customers, "old_key", res.OldKey)
	return res, nil
}
