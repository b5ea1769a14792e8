package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/withsense/withsense/lib/web"
)

func init() {
	commands["serve"] = command{
		summary: "serve the search as a web page and a JSON API (models loaded once)",
		usage:   "serve [DIR] [-index FILE] [-addr 127.0.0.1:8080] [-variant NAME] [-max-searches N]",
		run:     runServe,
	}
}

func runServe(args []string) error {
	fs := flags("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default; 0.0.0.0:8080 for every interface)")
	indexFile := fs.String("index", "", "index file to serve (default: DIR's, under data/cache/index)")
	variant := fs.String("variant", "", "search variant (default: the one the study measured best)")
	maxSearches := fs.Int("max-searches", 0, "searches running at once (default: 32, or the number of CPUs if more)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		fs.Usage()
		return fmt.Errorf("want at most one folder, got %d arguments", len(pos))
	}
	dir := ""
	if len(pos) == 1 {
		dir = pos[0]
	}
	s, err := openSearcher(dir, *indexFile, *variant)
	if err != nil {
		return err
	}
	h, err := web.New(s, web.Options{MaxConcurrent: *maxSearches})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "serving %d photos (%s) on http://%s/ — Ctrl-C stops\n", len(s.Paths), s.Scorer.Name(), ln.Addr())
	return web.Serve(ctx, ln, h)
}
