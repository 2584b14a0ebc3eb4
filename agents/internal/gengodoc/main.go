// Command gengodoc writes the second agents evaluation corpus
// (testdata/agents-godoc/corpus): the package documentation of a fixed list
// of Go standard library packages, as printed by `go doc -all PKG` of the
// local toolchain, converted to Markdown (the package line becomes the
// title, the CONSTANTS/VARIABLES/FUNCTIONS/TYPES lines and each top-level
// func/type declaration become headings, everything else is kept as is).
// The text was written by the Go authors, not by this project. Run it from
// the repository root:
//
//	go run ./agents/internal/gengodoc -out testdata/agents-godoc/corpus
//
// The outputs are committed; the Go version used is written to VERSION.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// packages is the corpus: every package a question may be about and many
// that no question is about (distractors).
var packages = []string{
	"archive/tar", "archive/zip", "bufio", "bytes", "cmp", "compress/bzip2", "compress/flate", "compress/gzip",
	"compress/zlib", "container/heap", "container/list", "container/ring", "context", "crypto/aes", "crypto/cipher",
	"crypto/ecdsa", "crypto/ed25519", "crypto/hmac", "crypto/md5", "crypto/rand", "crypto/rsa", "crypto/sha1",
	"crypto/sha256", "crypto/sha512", "crypto/subtle", "crypto/tls", "crypto/x509", "database/sql", "debug/elf",
	"embed", "encoding/ascii85", "encoding/base32", "encoding/base64", "encoding/binary", "encoding/csv",
	"encoding/hex", "encoding/json", "encoding/pem", "encoding/xml", "errors", "expvar", "flag", "fmt", "go/ast",
	"go/format", "go/parser", "hash/adler32", "hash/crc32", "hash/fnv", "hash/maphash", "html", "html/template",
	"image", "image/color", "image/gif", "image/jpeg", "image/png", "io", "io/fs", "iter", "log", "log/slog",
	"log/syslog", "maps", "math", "math/big", "math/bits", "math/cmplx", "math/rand/v2", "mime", "mime/multipart",
	"mime/quotedprintable", "net", "net/http/cookiejar", "net/http/httptest", "net/http/httputil", "net/mail",
	"net/netip", "net/rpc", "net/smtp", "net/textproto", "net/url", "os", "os/exec", "os/signal", "os/user", "path",
	"path/filepath", "reflect", "regexp", "runtime/debug", "runtime/pprof", "runtime/trace", "slices",
	"sort", "strconv", "strings", "sync", "sync/atomic", "testing/fstest", "testing/iotest",
	"testing/quick", "text/scanner", "text/tabwriter", "text/template", "time", "unicode", "unicode/utf16",
	"unicode/utf8", "unique", "unsafe", "weak",
}

// DocID is the corpus file name (without extension) of a package path.
func docID(pkg string) string { return strings.ReplaceAll(pkg, "/", "-") }

// markdown converts `go doc -all` output.
func markdown(pkg string, raw []byte) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "package ") && strings.Contains(line, "// import"):
			fmt.Fprintf(&b, "# package %s\n", pkg)
		case line == "CONSTANTS" || line == "VARIABLES" || line == "FUNCTIONS" || line == "TYPES":
			fmt.Fprintf(&b, "## %s\n", strings.ToLower(line))
		case strings.HasPrefix(line, "func ") || strings.HasPrefix(line, "type "):
			// a top-level declaration: its signature is the heading
			// (a type's body, if any, follows indented as in go doc).
			head := strings.TrimSuffix(strings.TrimSuffix(line, " {"), "{")
			fmt.Fprintf(&b, "### %s\n", strings.TrimSpace(head))
			if strings.HasSuffix(line, "{") {
				b.WriteString("    " + line + "\n")
			}
		default:
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes()
}

func main() {
	out := flag.String("out", "testdata/agents-godoc/corpus", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gengodoc:", err)
		os.Exit(1)
	}
	total := 0
	for _, p := range packages {
		raw, err := exec.Command("go", "doc", "-all", p).Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "gengodoc: go doc -all %s: %v\n", p, err)
			os.Exit(1)
		}
		md := markdown(p, raw)
		total += len(md)
		if err := os.WriteFile(filepath.Join(*out, docID(p)+".md"), md, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gengodoc:", err)
			os.Exit(1)
		}
	}
	v, err := exec.Command("go", "version").Output()
	if err == nil {
		err = os.WriteFile(filepath.Join(filepath.Dir(*out), "VERSION"), v, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gengodoc:", err)
		os.Exit(1)
	}
	fmt.Printf("gengodoc: wrote %d packages (%d bytes) to %s\n", len(packages), total, *out)
}
