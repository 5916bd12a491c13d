// Command petrel is the Petrel binary: `petrel serve` runs a node; the
// other subcommands are the operator CLI (topic, group, cluster, profile)
// and tools (bench).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/petrel-streaming/petrel/internal/bench"
	"github.com/petrel-streaming/petrel/internal/cli"
	"github.com/petrel-streaming/petrel/internal/config"
	"github.com/petrel-streaming/petrel/internal/node"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	root := &cobra.Command{
		Use:           "petrel",
		Short:         "Petrel: a Kafka-API-compatible streaming data platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), bench.NewCommand(logger))
	root.AddCommand(cli.Commands(cli.OSDeps())...)
	root.AddCommand(cli.TuneCommands(cli.OSDeps())...)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "petrel:", err)
		os.Exit(1)
	}
}

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Petrel node (Kafka on :9092, admin API on :9644, data in ./petrel-data)",
		Args:  cobra.NoArgs,
	}
	flags := config.RegisterFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := flags.Load(os.Environ())
		if err != nil {
			return err
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return fmt.Errorf("log_level %q: %w", cfg.LogLevel, err)
		}
		levelVar := new(slog.LevelVar) // changed at runtime by PUT /v1/config/log_level
		levelVar.Set(level)
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: levelVar}))
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		n, err := node.Start(ctx, node.Config{
			DataDir:            cfg.DataDir,
			NodeID:             cfg.NodeID,
			KafkaAddr:          cfg.KafkaAddr,
			AdvertiseKafkaAddr: cfg.AdvertiseKafkaAddr,
			AdminAddr:          cfg.AdminAddr,
			RPCAddr:            cfg.RPCAddr,
			Seeds:              cfg.Seeds,
			Shards:             cfg.Shards,
			MemoryBytes:        cfg.MemoryBytes,
			JournalBytes:       cfg.JournalBytes,
			DirectIO:           cfg.DirectIO,
			AutoCreateTopics:   cfg.AutoCreateTopics,
			SetGoMemoryLimit:   true,
			Logger:             logger,
			LogLevel:           levelVar,
			Settings:           cfg,
		})
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-n.Failed():
			return fmt.Errorf("node stopped: %w", n.Err())
		}
		logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := n.Close(sctx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("shutdown: %w", err)
		}
		logger.Info("stopped cleanly")
		return nil
	}
	return cmd
}
