// Command gocua-load measures gocua against the floor — the cheapest bot
// with the same I/O shape (one Redis GET and SET and one sendMessage per
// update, built with go-telegram/bot) — side by side, in one run.
//
// It starts each bot as a child process, points it at a fake Telegram Bot
// API it serves itself, posts webhook updates to it open loop (on a fixed
// schedule, whether or not earlier ones were answered) from many distinct
// chats, and times each update from its post to the first sendMessage to
// its chat. It reads the bot's CPU time and peak RSS, and those of Redis and
// PostgreSQL, from /proc, so it needs both servers on this machine. It
// prints a Markdown table and the ratios gocua/floor.
//
//	go run ./cmd/gocua-load -rate 1000 -duration 5s
//
// See -h for every flag and docs/benchmarks.md for a report.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "floor" {
		if err := runFloor(ctx, args[1:], stderr); err != nil {
			fmt.Fprintln(stderr, "gocua-load floor:", err)
			return 1
		}
		return 0
	}
	opts, err := parseOptions(args, stderr)
	if err != nil {
		if err == errHelp {
			return 0
		}
		fmt.Fprintln(stderr, "gocua-load:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := measure(ctx, opts, log)
	if err != nil {
		fmt.Fprintln(stderr, "gocua-load:", err)
		return 1
	}
	rep.WriteMarkdown(stdout)
	return 0
}
