package gitsource

import "golang.org/x/crypto/ssh"

func insecureHostKey() ssh.HostKeyCallback { return ssh.InsecureIgnoreHostKey() } //nolint:gosec // tests only, by explicit option
