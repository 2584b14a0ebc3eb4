package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tokenBytes is the entropy of a generated token.
const tokenBytes = 32

// MinTokenBytes is the shortest API token accepted (from Config.Token or
// the token file).
const MinTokenBytes = 16

// LoadOrCreateToken returns the token stored in file, creating the file
// with a new random token (mode 0600, its directory 0700) when it does not
// exist. created reports whether the token was generated now. A file that
// group or others may read, or that holds no token, is an error; errors
// never contain the token.
func LoadOrCreateToken(file string) (token string, created bool, err error) {
	if file == "" {
		return "", false, errors.New("api token: neither a token nor a token file is configured")
	}
	tok, err := readTokenFile(file)
	if err == nil {
		return tok, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", false, fmt.Errorf("api token: %w", err)
	}
	buf := make([]byte, tokenBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", false, fmt.Errorf("api token: generate: %w", err)
	}
	tok = base64.RawURLEncoding.EncodeToString(buf)
	// Written to a temporary file and published with a hard link: a reader
	// never sees the file empty or half written (it did: a CLI started right
	// after the file appeared read ""), and the link still fails when
	// another process published its token first.
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return "", false, fmt.Errorf("api token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", false, fmt.Errorf("api token: write %s: %w", file, err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("api token: write %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, fmt.Errorf("api token: write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("api token: write %s: %w", file, err)
	}
	err = os.Link(tmp, file)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our create.
		tok, err := readTokenFile(file)
		return tok, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("api token: %w", err)
	}
	return tok, true, nil
}

func readTokenFile(file string) (string, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("api token: %s is not a regular file", file)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("api token: %s is accessible by group or others (mode %v); run chmod 600 %s", file, fi.Mode().Perm(), file)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", fmt.Errorf("api token: %s is empty", file)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("api token: %s holds more than one line or word", file)
	}
	if len(tok) < MinTokenBytes {
		return "", fmt.Errorf("api token: the token in %s is %d bytes, shorter than the minimum %d; delete the file to have a new one generated", file, len(tok), MinTokenBytes)
	}
	return tok, nil
}

// tokenMatch compares in constant time; hashing first makes the time
// independent of the lengths too.
func tokenMatch(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
