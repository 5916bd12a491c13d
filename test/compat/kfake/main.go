// Command kfake runs franz-go's in-memory fake Kafka broker (kfake) on a
// fixed loopback port, so the client compatibility suite in test/compat can
// be developed and run without a Petrel broker:
//
//	go run ./test/compat/kfake -port 9092 &
//	test/compat/run.sh 127.0.0.1:9092
//
// `make compat-kfake` does exactly that. The broker keeps everything in
// memory and exits on SIGINT or SIGTERM. It does not create topics on
// demand: the suite creates its topics through each client's admin API.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "loopback port to listen on")
	seed := flag.String("seed-topic", "", "optional topic to create at start (4 partitions)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger, *port, *seed); err != nil {
		logger.Error("kfake", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger, port int, seed string) error {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("petrel-compat-kfake"),
		// Clients in the suite use short sessions to keep rebalances quick.
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if seed != "" {
		opts = append(opts, kfake.SeedTopics(4, seed))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start kfake on port %d: %w", port, err)
	}
	defer c.Close()
	logger.Info("kfake listening", "addrs", c.ListenAddrs())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	logger.Info("kfake stopping", "signal", s.String())
	return nil
}
