package wgtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/wgnet"
)

// Config is a parsed wg-quick configuration (wg-quick(8), wg(8)
// "CONFIGURATION FILE FORMAT").
type Config struct {
	Interface Interface
	Peers     []Peer
}

// Interface is the [Interface] section.
type Interface struct {
	PrivateKey string // base64
	// Address is wg-quick's Address list; a bare IP is a /32 (/128).
	Address []netip.Prefix
	// ListenPort is 0 when not given.
	ListenPort uint16
	MTU        int
}

// String shows the section without its private key (fmt's %v, %+v and
// %#v use it), so a test that logs a configuration leaks no key.
func (i Interface) String() string {
	return fmt.Sprintf("{PrivateKey:(redacted) Address:%v ListenPort:%d MTU:%d}", i.Address, i.ListenPort, i.MTU)
}

// GoString is String, for %#v.
func (i Interface) GoString() string { return i.String() }

// Peer is one [Peer] section.
type Peer struct {
	// Line is the line of the section header, for messages.
	Line         int
	PublicKey    string // base64
	PresharedKey string // base64, optional
	// Endpoint is host:port as written ("" for none).
	Endpoint            string
	AllowedIPs          []netip.Prefix
	PersistentKeepalive time.Duration
}

// String shows the section without its preshared key.
func (p Peer) String() string {
	psk := ""
	if p.PresharedKey != "" {
		psk = " PresharedKey:(redacted)"
	}
	return fmt.Sprintf("{Line:%d PublicKey:%s%s Endpoint:%s AllowedIPs:%v PersistentKeepalive:%s}",
		p.Line, p.PublicKey, psk, p.Endpoint, p.AllowedIPs, p.PersistentKeepalive)
}

// GoString is String, for %#v.
func (p Peer) GoString() string { return p.String() }

// ParseError locates one problem in a configuration text.
type ParseError struct {
	File    string
	Line    int
	Section string // "Interface", "Peer" or ""
	Key     string // "" for a line that is not a setting
	Msg     string
}

func (e *ParseError) Error() string {
	where := fmt.Sprintf("%s:%d", e.File, e.Line)
	switch {
	case e.Key != "":
		return fmt.Sprintf("%s: [%s] %s: %s", where, e.Section, e.Key, e.Msg)
	case e.Section != "":
		return fmt.Sprintf("%s: [%s]: %s", where, e.Section, e.Msg)
	}
	return where + ": " + e.Msg
}

// hostKeys are the [Interface] keys wg-quick acts on in the host (DNS,
// routing table, hooks); a userspace peer has no host to change, so they
// are accepted and ignored.
var hostKeys = map[string]bool{"dns": true, "table": true, "preup": true, "postup": true,
	"predown": true, "postdown": true, "saveconfig": true, "fwmark": true}

// Parse reads a wg-quick configuration as wg(8) does: '#' starts a
// comment, whitespace is insignificant, section and key names are
// case-insensitive. It is stricter than wg(8) where wg would silently
// take the last of two values: a repeated singular key, a second
// [Interface] and two peers with one public key are errors. name is used
// in messages; key values never are.
func Parse(name string, text []byte) (Config, error) {
	p := parser{file: name, seen: map[string]int{}}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		p.line++
		if err := p.feed(sc.Text()); err != nil {
			return Config{}, err
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, &ParseError{File: name, Line: p.line + 1, Msg: err.Error()}
	}
	if err := p.finishPeer(); err != nil {
		return Config{}, err
	}
	if p.ifaceLine == 0 {
		return Config{}, &ParseError{File: name, Line: max(p.line, 1), Msg: "no [Interface] section"}
	}
	if p.cfg.Interface.PrivateKey == "" {
		return Config{}, &ParseError{File: name, Line: p.ifaceLine, Section: "Interface", Msg: "PrivateKey is missing"}
	}
	return p.cfg, nil
}

type parser struct {
	file      string
	line      int
	cfg       Config
	section   string // "", "Interface", "Peer"
	ifaceLine int
	seen      map[string]int // singular key (lower case) → line, in this section
	keys      map[string]int // peer public key → line of its section
}

func (p *parser) errf(key, format string, args ...any) error {
	return &ParseError{File: p.file, Line: p.line, Section: p.section, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) feed(raw string) error {
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	line := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f' {
			return -1
		}
		return r
	}, raw)
	if line == "" {
		return nil
	}
	if line[0] == '[' {
		return p.header(line)
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok || k == "" {
		return p.errf("", "line is neither a [section] nor Key = Value")
	}
	if p.section == "" {
		return p.errf("", "setting %s before any [Interface] or [Peer] section", show(k))
	}
	return p.setting(k, v)
}

func (p *parser) header(line string) error {
	switch strings.ToLower(line) {
	case "[interface]":
		if err := p.finishPeer(); err != nil {
			return err
		}
		if p.ifaceLine != 0 {
			return p.errf("", "second [Interface] section (the first is on line %d)", p.ifaceLine)
		}
		p.section, p.ifaceLine = "Interface", p.line
	case "[peer]":
		if err := p.finishPeer(); err != nil {
			return err
		}
		p.section = "Peer"
		p.cfg.Peers = append(p.cfg.Peers, Peer{Line: p.line})
	default:
		return p.errf("", "unknown section %s (want [Interface] or [Peer])", show(line))
	}
	clear(p.seen)
	return nil
}

// finishPeer checks the peer section that just ended.
func (p *parser) finishPeer() error {
	if p.section != "Peer" {
		return nil
	}
	peer := p.cfg.Peers[len(p.cfg.Peers)-1]
	if peer.PublicKey == "" {
		return &ParseError{File: p.file, Line: peer.Line, Section: "Peer", Msg: "PublicKey is missing"}
	}
	if p.keys == nil {
		p.keys = map[string]int{}
	}
	if first, dup := p.keys[peer.PublicKey]; dup {
		return &ParseError{File: p.file, Line: peer.Line, Section: "Peer", Key: "PublicKey",
			Msg: fmt.Sprintf("the same key as the peer on line %d", first)}
	}
	p.keys[peer.PublicKey] = peer.Line
	return nil
}

// singular rejects a second value of a key that takes one.
func (p *parser) singular(key string) error {
	lk := strings.ToLower(key)
	if first, dup := p.seen[lk]; dup {
		return p.errf(key, "given twice (first on line %d)", first)
	}
	p.seen[lk] = p.line
	return nil
}

func (p *parser) setting(k, v string) error {
	lk := strings.ToLower(k)
	if p.section == "Interface" {
		ifc := &p.cfg.Interface
		switch lk {
		case "privatekey":
			return p.key("PrivateKey", v, &ifc.PrivateKey)
		case "listenport":
			if err := p.singular("ListenPort"); err != nil {
				return err
			}
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return p.errf("ListenPort", "%s is not a port number 0..65535", quote(v))
			}
			ifc.ListenPort = uint16(n)
		case "address":
			return p.prefixes("Address", v, &ifc.Address, false)
		case "mtu":
			if err := p.singular("MTU"); err != nil {
				return err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 576 || n > 65535 {
				return p.errf("MTU", "%s is not a number 576..65535", quote(v))
			}
			ifc.MTU = n
		default:
			if !hostKeys[lk] {
				return p.errf(show(k), "unknown key in [Interface] (want PrivateKey, ListenPort, Address, MTU, or one of wg-quick's DNS, Table, FwMark, SaveConfig, PreUp, PostUp, PreDown, PostDown)")
			}
		}
		return nil
	}
	peer := &p.cfg.Peers[len(p.cfg.Peers)-1]
	switch lk {
	case "publickey":
		return p.key("PublicKey", v, &peer.PublicKey)
	case "presharedkey":
		return p.key("PresharedKey", v, &peer.PresharedKey)
	case "endpoint":
		if err := p.singular("Endpoint"); err != nil {
			return err
		}
		if err := checkEndpoint(v); err != nil {
			return p.errf("Endpoint", "%v", err)
		}
		peer.Endpoint = v
	case "allowedips":
		return p.prefixes("AllowedIPs", v, &peer.AllowedIPs, true)
	case "persistentkeepalive":
		if err := p.singular("PersistentKeepalive"); err != nil {
			return err
		}
		if strings.EqualFold(v, "off") {
			return nil
		}
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return p.errf("PersistentKeepalive", "%s is not off or a number of seconds 0..65535", quote(v))
		}
		peer.PersistentKeepalive = time.Duration(n) * time.Second
	default:
		return p.errf(show(k), "unknown key in [Peer] (want PublicKey, PresharedKey, Endpoint, AllowedIPs, PersistentKeepalive)")
	}
	return nil
}

// key stores a base64 key; the message never repeats the value.
func (p *parser) key(name, v string, dst *string) error {
	if err := p.singular(name); err != nil {
		return err
	}
	if _, err := wgnet.ParseKey(v); err != nil {
		return p.errf(name, "%v", err)
	}
	*dst = v
	return nil
}

// prefixes appends a comma-separated list of IP or IP/bits; lists may be
// given on several lines and accumulate, as in wg(8). An empty list is
// allowed only where wg allows it (AllowedIPs).
func (p *parser) prefixes(name, v string, dst *[]netip.Prefix, emptyOK bool) error {
	if v == "" {
		if emptyOK {
			return nil
		}
		return p.errf(name, "is empty")
	}
	for _, s := range strings.Split(v, ",") {
		pf, err := parsePrefix(s)
		if err != nil {
			return p.errf(name, "%s: %v", quote(s), err)
		}
		*dst = append(*dst, pf)
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New("empty list entry")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or IP/prefix-length")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("an address with a zone")
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address or IP/prefix-length")
	}
	return pf, nil
}

// checkEndpoint accepts host:port and [IPv6]:port as wg(8) does.
func checkEndpoint(v string) error {
	host, port, ok := cutHostPort(v)
	if !ok {
		return fmt.Errorf("%s is not host:port or [IPv6]:port", quote(v))
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%s: port %s is not 1..65535", quote(v), quote(port))
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostName(host) {
		return fmt.Errorf("%s: %s is neither an IP address nor a host name", quote(v), quote(host))
	}
	return nil
}

func cutHostPort(v string) (host, port string, ok bool) {
	if strings.HasPrefix(v, "[") {
		end := strings.Index(v, "]:")
		if end < 0 {
			return "", "", false
		}
		host, port = v[1:end], v[end+2:]
		if !strings.Contains(host, ":") { // brackets are for IPv6 only
			return "", "", false
		}
		return host, port, host != "" && port != ""
	}
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || strings.Count(v, ":") != 1 {
		return "", "", false
	}
	return v[:i], v[i+1:], v[i+1:] != ""
}

func validHostName(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Marshal renders the configuration as wg-quick text (keys included:
// test material only).
func (c Config) Marshal() []byte {
	var b strings.Builder
	b.WriteString("[Interface]\n")
	if len(c.Interface.Address) > 0 {
		b.WriteString("Address = " + joinPrefixes(c.Interface.Address) + "\n")
	}
	if c.Interface.ListenPort != 0 {
		fmt.Fprintf(&b, "ListenPort = %d\n", c.Interface.ListenPort)
	}
	if c.Interface.MTU != 0 {
		fmt.Fprintf(&b, "MTU = %d\n", c.Interface.MTU)
	}
	b.WriteString("PrivateKey = " + c.Interface.PrivateKey + "\n")
	for _, p := range c.Peers {
		b.WriteString("\n[Peer]\nPublicKey = " + p.PublicKey + "\n")
		if p.PresharedKey != "" {
			b.WriteString("PresharedKey = " + p.PresharedKey + "\n")
		}
		if p.Endpoint != "" {
			b.WriteString("Endpoint = " + p.Endpoint + "\n")
		}
		if len(p.AllowedIPs) > 0 {
			b.WriteString("AllowedIPs = " + joinPrefixes(p.AllowedIPs) + "\n")
		}
		if p.PersistentKeepalive != 0 {
			fmt.Fprintf(&b, "PersistentKeepalive = %d\n", int(p.PersistentKeepalive/time.Second))
		}
	}
	return []byte(b.String())
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// keyLike matches text that may be (part of) a base64 key: a message
// never repeats it, whatever key it was given under.
func keyLike(s string) bool {
	n := 0
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '+', r == '/', r == '=':
			n++
		default:
			n = 0
		}
		if n >= 20 {
			return true
		}
	}
	return false
}

// quote is %q of a value, or a placeholder when it looks like a key.
func quote(s string) string {
	if keyLike(s) {
		return "(a value that looks like a key, not shown)"
	}
	return strconv.Quote(s)
}

// show is a name as written, or a placeholder when it looks like a key.
func show(s string) string {
	if keyLike(s) {
		return "(text that looks like a key, not shown)"
	}
	return s
}
