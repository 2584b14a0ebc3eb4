package wgtest

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestCloudInitFile(t *testing.T) {
	conf := "[Interface]\nAddress = 10.64.0.1/25\nListenPort = 51820\nPrivateKey = " + k1 + "\n"
	ud := "#cloud-config\npackages: [wireguard]\nwrite_files:\n" +
		"  - path: /etc/wireguard/wg0.conf\n    permissions: '0600'\n    content: |\n" +
		indent(conf) +
		"  - path: /etc/b64\n    encoding: b64\n    content: " + base64.StdEncoding.EncodeToString([]byte(conf)) + "\n" +
		"  - path: /etc/gz\n    encoding: gz+b64\n    content: AAAA\n"
	for _, path := range []string{"/etc/wireguard/wg0.conf", "/etc/b64"} {
		got, err := CloudInitFile([]byte(ud), path)
		if err != nil || string(got) != conf {
			t.Fatalf("%s: %q, %v", path, got, err)
		}
		if _, err := Parse(path, got); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ ud, path, want string }{
		{ud, "/etc/missing", "writes no /etc/missing"},
		{ud, "/etc/gz", `encoding "gz+b64" is not read here`},
		{"#!/bin/sh\n", "/x", "not #cloud-config"},
		{"#cloud-config\nwrite_files: [{path: /x}, {path: /x}]\n", "/x", "writes /x 2 times"},
		{"#cloud-config\nwrite_files: {\n", "/x", "user data:"},
	} {
		if _, err := CloudInitFile([]byte(tc.ud), tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("      " + l)
		}
	}
	return b.String()
}
