package hetznersim

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type sshKeyRec struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Fingerprint string            `json:"fingerprint"`
	PublicKey   string            `json:"public_key"`
	Labels      map[string]string `json:"labels"`
	Created     time.Time         `json:"created"`
}

func (k *sshKeyRec) toSchema() schema.SSHKey {
	return schema.SSHKey{ID: k.ID, Name: k.Name, Fingerprint: k.Fingerprint, PublicKey: k.PublicKey,
		Labels: labelsOrEmpty(k.Labels), Created: k.Created}
}

var sshKeyTypes = []string{"ssh-rsa", "ssh-ed25519", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"}

// sshFingerprint parses an OpenSSH public key line and returns its MD5
// fingerprint in the colon-separated form the API reports.
func sshFingerprint(pub string) (string, error) {
	f := strings.Fields(pub)
	if len(f) < 2 {
		return "", fmt.Errorf("want \"<type> <base64 key> [comment]\"")
	}
	if !contains(sshKeyTypes, f[0]) {
		return "", fmt.Errorf("unsupported key type %q", f[0])
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", fmt.Errorf("key data is not base64")
	}
	if len(blob) < 4 {
		return "", fmt.Errorf("key data too short")
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n)+4 > uint64(len(blob)) || string(blob[4:4+n]) != f[0] {
		return "", fmt.Errorf("key data does not match key type %q", f[0])
	}
	sum := md5.Sum(blob)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":"), nil
}

// listSSHKeys serves GET /ssh_keys.
func (s *Server) listSSHKeys(q *request) (int, any, *apiError) {
	lq, err := parseList(q.query, "id", "name")
	if err != nil {
		return 0, nil, err
	}
	fp := q.query.Get("fingerprint")
	var list []*sshKeyRec
	for _, k := range s.st.SSHKeys {
		if (lq.name == "" || k.Name == lq.name) && (fp == "" || k.Fingerprint == fp) && lq.sel.matches(k.Labels) {
			list = append(list, k)
		}
	}
	sortByID(list, func(k *sshKeyRec) int64 { return k.ID })
	sortBy(list, lq.sorts, func(a, b *sshKeyRec, f string) int {
		if f == "name" {
			return cmpStr(a.Name, b.Name)
		}
		return cmpInt(a.ID, b.ID)
	})
	pg, meta := page(list, lq)
	out := make([]schema.SSHKey, 0, len(pg))
	for _, k := range pg {
		out = append(out, k.toSchema())
	}
	return http.StatusOK, listBody("ssh_keys", out, meta), nil
}

// createSSHKey serves POST /ssh_keys.
func (s *Server) createSSHKey(q *request, now time.Time) (int, any, *apiError) {
	var in schema.SSHKeyCreateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Name == "" {
		return 0, nil, errInvalid("name", "name is required")
	}
	fp, err := sshFingerprint(in.PublicKey)
	if err != nil {
		return 0, nil, errInvalid("public_key", "invalid public key: %v", err)
	}
	for _, k := range s.st.SSHKeys {
		if k.Name == in.Name {
			return 0, nil, errUnique("name")
		}
		if k.Fingerprint == fp {
			return 0, nil, errUnique("public_key")
		}
	}
	labels := map[string]string{}
	if in.Labels != nil {
		labels = copyLabels(*in.Labels)
	}
	if err := validateLabels(labels); err != nil {
		return 0, nil, errInvalid("labels", "%v", err)
	}
	k := &sshKeyRec{ID: s.st.nextID("ssh_key"), Name: in.Name, Fingerprint: fp,
		PublicKey: strings.TrimSpace(in.PublicKey), Labels: labels, Created: now.UTC().Truncate(time.Second)}
	s.st.SSHKeys[k.ID] = k
	return http.StatusCreated, map[string]any{"ssh_key": k.toSchema()}, nil
}

// updateSSHKey serves PUT /ssh_keys/{id}.
func (s *Server) updateSSHKey(q *request, k *sshKeyRec) (int, any, *apiError) {
	var in schema.SSHKeyUpdateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Name != "" && in.Name != k.Name {
		for _, o := range s.st.SSHKeys {
			if o.Name == in.Name {
				return 0, nil, errUnique("name")
			}
		}
	}
	if in.Labels != nil {
		if err := validateLabels(*in.Labels); err != nil {
			return 0, nil, errInvalid("labels", "%v", err)
		}
		k.Labels = copyLabels(*in.Labels)
	}
	if in.Name != "" {
		k.Name = in.Name
	}
	return http.StatusOK, map[string]any{"ssh_key": k.toSchema()}, nil
}

// deleteSSHKey serves DELETE /ssh_keys/{id}.
func (s *Server) deleteSSHKey(q *request, k *sshKeyRec) (int, any, *apiError) {
	delete(s.st.SSHKeys, k.ID)
	return http.StatusNoContent, nil, nil
}
