// Command genman writes vdc's man pages (section 1) into a directory:
// go run ./cmd/genman -dir man (make man).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/agentvdc/agentvdc/cmd/vdc/cli"
)

func main() {
	dir := flag.String("dir", "man", "directory to write the man pages into")
	flag.Parse()
	if err := cli.WriteManPages(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}
