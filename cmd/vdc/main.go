// Command vdc is the agentvdc CLI and daemon. All behaviour lives in package cli.
package main

import (
	"context"
	"os"

	"github.com/agentvdc/agentvdc/cmd/vdc/cli"
)

func main() { os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
