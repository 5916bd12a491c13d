package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// StartKfake starts franz-go's kfake as the bench's peer: one broker
// listening on addr ("127.0.0.1:0" picks a port), persisting to dataDir
// with an fsync per produced batch (DataDir + SyncWrites), the closest
// kfake comes to acks=all durability. Close the cluster when done.
func StartKfake(addr, dataDir string) (*kfake.Cluster, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("bench: kfake peer needs a data dir")
	}
	return kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(dataDir),
		kfake.SyncWrites(),
		// kfake listens on 127.0.0.1:<port>; take the address we were given.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
	)
}

// StartNull listens on addr and serves a NullBroker there until Close.
func StartNull(addr string, defaultValueBytes int, logger *slog.Logger) (*NullBroker, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b, err := NewNullBroker(ln, defaultValueBytes, logger)
	if err != nil {
		ln.Close()
		return nil, err
	}
	go func() {
		if err := b.Serve(); err != nil {
			logger.Error("null broker", "err", err)
		}
	}()
	return b, nil
}

// RunPeer runs a peer ("kfake" or "null") on addr until ctx ends, calling
// ready with its address once it serves.
func RunPeer(ctx context.Context, kind, addr, dataDir string, valueBytes int, logger *slog.Logger, ready func(addr string)) error {
	switch kind {
	case "kfake":
		c, err := StartKfake(addr, dataDir)
		if err != nil {
			return err
		}
		defer c.Close()
		ready(c.ListenAddrs()[0])
	case "null":
		b, err := StartNull(addr, valueBytes, logger)
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.Close(cctx)
		}()
		ready(b.Addr())
	default:
		return fmt.Errorf("%w: peer %q (want kfake or null)", ErrUsage, kind)
	}
	<-ctx.Done()
	return nil
}
