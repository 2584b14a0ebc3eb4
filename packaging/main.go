// Command packaging builds vdc's Debian package with nFPM (as a library):
// the binary, the hardened systemd unit, the service user (sysusers.d),
// a default configuration under /etc/vdc, the man pages and the docs.
//
//	go run . -bin ../bin/vdc -version v1.2.3 -arch amd64 -out ../dist
//
// It is its own Go module so that nFPM's dependencies stay out of vdc's.
// make deb builds the binaries (linux amd64 and arm64, static, -trimpath)
// and calls it; cmd/vdc's TestDebPackage checks the result with dpkg-deb.
// With -image it builds the OCI container image instead (image.go; make
// image, TestContainerImage).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

func main() {
	bin := flag.String("bin", "", "the vdc binary to package (linux, for -arch)")
	version := flag.String("version", "", "package version (v1.2.3 or 1.2.3)")
	arch := flag.String("arch", "amd64", "Debian architecture: amd64 or arm64")
	out := flag.String("out", "dist", "directory for the .deb and its SHA256SUMS line")
	man := flag.String("man", "", "directory of man pages to install (make man), optional")
	root := flag.String("root", "..", "the agentvdc checkout (for vdc.example.yaml and docs)")
	mtime := flag.String("mtime", "", "file times, RFC 3339 (default: $SOURCE_DATE_EPOCH, else now)")
	image := flag.Bool("image", false, "build the container image (a docker-loadable tarball) instead of the .deb")
	caCerts := flag.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "with -image: the CA bundle to put in the image")
	revision := flag.String("revision", "", "with -image: the git commit, for the image's labels")
	flag.Parse()
	if *bin == "" || *version == "" {
		fmt.Fprintln(os.Stderr, "packaging: -bin and -version are required")
		os.Exit(2)
	}
	var path string
	var err error
	if *image {
		var when time.Time
		if when, err = fileTime(*mtime); err == nil {
			if *arch != "amd64" && *arch != "arm64" {
				err = fmt.Errorf("-arch must be amd64 or arm64, not %q", *arch)
			} else {
				path, err = buildImage(imageOptions{bin: *bin, version: *version, arch: *arch, out: *out, caCerts: *caCerts, revision: *revision, when: when})
			}
		}
	} else {
		path, err = build(options{bin: *bin, version: *version, arch: *arch, out: *out, man: *man, root: *root, mtime: *mtime})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "packaging:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

type options struct{ bin, version, arch, out, man, root, mtime string }

func build(o options) (string, error) {
	if o.arch != "amd64" && o.arch != "arm64" {
		return "", fmt.Errorf("-arch must be amd64 or arm64, not %q", o.arch)
	}
	if _, err := os.Stat(o.bin); err != nil {
		return "", fmt.Errorf("-bin: %w", err)
	}
	when, err := fileTime(o.mtime)
	if err != nil {
		return "", err
	}
	here := func(name string) string { return name } // files beside main.go
	fi := func(mode os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Mode: mode, Owner: "root", Group: "root", MTime: when}
	}
	contents := files.Contents{
		{Source: o.bin, Destination: "/usr/bin/vdc", FileInfo: fi(0o755)},
		{Source: here("vdc.service"), Destination: "/usr/lib/systemd/system/vdc.service", FileInfo: fi(0o644)},
		{Source: here("sysusers.conf"), Destination: "/usr/lib/sysusers.d/vdc.conf", FileInfo: fi(0o644)},
		{Source: filepath.Join(o.root, "vdc.example.yaml"), Destination: "/etc/vdc/vdc.yaml", Type: files.TypeConfigNoReplace, FileInfo: fi(0o644)},
		{Source: here("env"), Destination: "/etc/vdc/env", Type: files.TypeConfigNoReplace, FileInfo: fi(0o600)},
		{Destination: "/etc/vdc", Type: files.TypeDir, FileInfo: fi(0o755)},
	}
	for _, doc := range []string{"README.md", "docs/operations.md", "docs/troubleshooting.md", "docs/architecture.md", "docs/ci.md", "docs/examples/prometheus-alerts.yml", "docs/examples/github-workflow.yml"} {
		contents = append(contents, &files.Content{Source: filepath.Join(o.root, doc), Destination: "/usr/share/doc/vdc/" + filepath.Base(doc), FileInfo: fi(0o644)})
	}
	if o.man != "" {
		pages, err := filepath.Glob(filepath.Join(o.man, "*.1"))
		if err != nil || len(pages) == 0 {
			return "", fmt.Errorf("-man %s: no man pages (run make man)", o.man)
		}
		sort.Strings(pages)
		for _, p := range pages {
			contents = append(contents, &files.Content{Source: p, Destination: "/usr/share/man/man1/" + filepath.Base(p), FileInfo: fi(0o644)})
		}
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name: "vdc", Arch: o.arch, Platform: "linux", Version: o.version,
		Section: "admin", Priority: "optional", Maintainer: "agentvdc <ops@agentvdc.io>",
		Description: "agentvdc: per-customer Agent VDCs on OpenNebula, Hetzner Cloud and Exoscale, from git (vdc CLI and daemon)",
		Vendor:      "agentvdc", Homepage: "https://github.com/agentvdc/agentvdc", License: "proprietary",
		MTime: when,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts:  nfpm.Scripts{PostInstall: here("postinst.sh"), PreRemove: here("prerm.sh"), PostRemove: here("postrm.sh")},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	target := filepath.Join(o.out, deb.Default.ConventionalFileName(info))
	f, err := os.Create(target)
	if err != nil {
		return "", err
	}
	info.Target = target
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(target)
		return "", fmt.Errorf("build %s: %w", target, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return target, appendChecksum(target)
}

// fileTime is -mtime, else $SOURCE_DATE_EPOCH, else now.
func fileTime(s string) (time.Time, error) {
	if s != "" {
		return time.Parse(time.RFC3339, s)
	}
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		var sec int64
		if _, err := fmt.Sscan(e, &sec); err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", e, err)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

// appendChecksum adds "sha256  name" for path to SHA256SUMS beside it,
// replacing an older line for the same name.
func appendChecksum(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	sums := filepath.Join(filepath.Dir(path), "SHA256SUMS")
	old, _ := os.ReadFile(sums)
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(string(old)), "\n") {
		if line != "" && !strings.HasSuffix(line, "  "+filepath.Base(path)) {
			keep = append(keep, line)
		}
	}
	keep = append(keep, hex.EncodeToString(h.Sum(nil))+"  "+filepath.Base(path))
	sort.Slice(keep, func(i, j int) bool { return keep[i][66:] < keep[j][66:] })
	return os.WriteFile(sums, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
}
