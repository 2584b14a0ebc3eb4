// Command vdc is the agentvdc CLI and daemon. All behaviour lives in package cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/cmd/vdc/cli"
)

func main() {
	// A child of the extract sandbox parses one hostile file after
	// another and never gets to the CLI.
	extract.ServeChildIfAsked()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
