package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/petrel-streaming/petrel/internal/bench"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := bench.Run(context.Background(), os.Args[1:], os.Stdout, logger); err != nil {
		fmt.Fprintln(os.Stderr, "petrel-bench:", err)
		os.Exit(1)
	}
}
