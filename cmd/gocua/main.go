// Command gocua runs the gocua helpdesk bot and its maintenance commands.
// main only parses the command line; Main wires the parts and owns their
// lifecycle so tests can start the real thing.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
