package wgtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// CloudInitFile returns the content cloud-init would write to path from
// a #cloud-config user data's write_files (e.g. /etc/wireguard/wg0.conf
// of the storage node), so a test peer runs exactly what was rendered.
// Plain and base64 ("b64", "base64") encodings are read; gzip ones are
// refused rather than guessed.
func CloudInitFile(userData []byte, path string) ([]byte, error) {
	if !bytes.HasPrefix(userData, []byte("#cloud-config\n")) {
		return nil, fmt.Errorf("wgtest: user data is not #cloud-config")
	}
	var doc struct {
		WriteFiles []struct {
			Path     string `yaml:"path"`
			Content  string `yaml:"content"`
			Encoding string `yaml:"encoding"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(userData, &doc); err != nil {
		return nil, fmt.Errorf("wgtest: user data: %w", err)
	}
	var found []byte
	n := 0
	for _, f := range doc.WriteFiles {
		if f.Path != path {
			continue
		}
		n++
		switch strings.ToLower(f.Encoding) {
		case "", "text/plain":
			found = []byte(f.Content)
		case "b64", "base64":
			b, err := base64.StdEncoding.DecodeString(f.Content)
			if err != nil {
				return nil, fmt.Errorf("wgtest: user data: write_files %s: content is not base64", path)
			}
			found = b
		default:
			return nil, fmt.Errorf("wgtest: user data: write_files %s: encoding %q is not read here", path, f.Encoding)
		}
	}
	switch n {
	case 0:
		return nil, fmt.Errorf("wgtest: user data writes no %s", path)
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("wgtest: user data writes %s %d times", path, n)
}
