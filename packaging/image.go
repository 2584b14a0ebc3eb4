package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// imageUID is the unprivileged user the image runs as (distroless's nonroot).
const imageUID = 65532

// imageOptions describe the container image: the static binary on an
// empty base, with the CA certificates for the clouds' HTTPS.
type imageOptions struct {
	bin, version, arch, out, caCerts, revision string
	when                                       time.Time
}

// buildImage writes an OCI image of vdc as a docker-loadable tarball
// (docker load -i / podman load -i): one layer on an empty base, running
// as a non-root user, vdc serve listening on all interfaces, state in the
// /var/lib/vdc volume.
func buildImage(o imageOptions) (string, error) {
	if err := static(o.bin); err != nil {
		return "", err
	}
	bin, err := os.ReadFile(o.bin)
	if err != nil {
		return "", err
	}
	certs, err := os.ReadFile(o.caCerts)
	if err != nil {
		return "", fmt.Errorf("-ca-certs: %w (the clouds' APIs are HTTPS)", err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	dir := func(p string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: o.when})
	}
	file := func(p string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(data)), ModTime: o.when}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []error{
		dir("etc", 0o755, 0), dir("etc/ssl", 0o755, 0), dir("etc/ssl/certs", 0o755, 0),
		dir("usr", 0o755, 0), dir("usr/bin", 0o755, 0),
		dir("var", 0o755, 0), dir("var/lib", 0o755, 0), dir("var/lib/vdc", 0o700, imageUID),
		dir("tmp", 0o1777, 0),
		file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nvdc:x:%d:%d:agentvdc daemon:/var/lib/vdc:/sbin/nologin\n", imageUID, imageUID)),
		file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nvdc:x:%d:\n", imageUID)),
		file("etc/ssl/certs/ca-certificates.crt", 0o644, certs),
		file("usr/bin/vdc", 0o755, bin),
	}
	for _, err := range steps {
		if err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", o.arch, v1.Time{Time: o.when}
	cf.Author = "agentvdc"
	cf.Config.Entrypoint = []string{"/usr/bin/vdc"}
	cf.Config.Cmd = []string{"serve", "--listen", "0.0.0.0:8787", "--data", "/var/lib/vdc", "--log-format", "json"}
	cf.Config.User = fmt.Sprintf("%d:%d", imageUID, imageUID)
	cf.Config.WorkingDir = "/var/lib/vdc"
	cf.Config.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cf.Config.ExposedPorts = map[string]struct{}{"8787/tcp": {}}
	cf.Config.Volumes = map[string]struct{}{"/var/lib/vdc": {}}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "vdc",
		"org.opencontainers.image.description": "agentvdc: per-customer Agent VDCs on OpenNebula, Hetzner Cloud and Exoscale, from git",
		"org.opencontainers.image.version":     strings.TrimPrefix(o.version, "v"),
		"org.opencontainers.image.source":      "https://github.com/agentvdc/agentvdc",
		"org.opencontainers.image.revision":    o.revision,
		"org.opencontainers.image.created":     o.when.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "proprietary",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return "", err
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: o.when})
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag("agentvdc/vdc:" + strings.TrimPrefix(strings.ReplaceAll(o.version, "+", "-"), "v") + "-" + o.arch)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	path := fmt.Sprintf("%s/vdc_%s_%s.image.tar", o.out, strings.TrimPrefix(o.version, "v"), o.arch)
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return "", fmt.Errorf("write image %s: %w", path, err)
	}
	return path, appendChecksum(path)
}

// static refuses a dynamically linked binary: an empty base has no libc.
func static(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("-bin %s: not an ELF binary: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("-bin %s is dynamically linked: build it with CGO_ENABLED=0 for the image", path)
		}
	}
	return nil
}
