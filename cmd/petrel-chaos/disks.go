package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/diskfault"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
)

// mountDisks puts each node's data directory on a lazy FUSE layer
// (node-<i>/disk holds the real files) when the machine allows it; the
// returned Disks say why not otherwise. allowOther opens the mounts to the
// nodes' own groups (netns mode). unmount kills the nodes first (they
// hold the mounts), then unmounts every layer, forcibly if need be, so no
// mount outlives the run.
func mountDisks(c *cluster.Cluster, want, allowOther bool, logger *slog.Logger) (d nemesis.Disks, unmount func() error) {
	unmount = func() error {
		_ = c.Close()
		var errs []error
		for _, l := range d.Layers {
			errs = append(errs, l.ForceUnmount())
		}
		return errors.Join(errs...)
	}
	if !want {
		d.Why = errors.New("--fuse=false")
		return d, unmount
	}
	if err := diskfault.Supported(); err != nil {
		d.Why = err
		return d, unmount
	}
	for _, n := range c.Nodes() {
		l, err := diskfault.Mount(diskfault.Config{Dir: filepath.Join(n.Dir, "disk"), Mountpoint: n.DataDir,
			Mode: diskfault.Mode{Lazy: true}, AllowOther: allowOther, Logger: logger})
		if err != nil {
			d.Why = fmt.Errorf("node %d: %w", n.ID, err)
			_ = unmount()
			d.Layers = nil
			return d, unmount
		}
		d.Layers = append(d.Layers, l)
	}
	return d, unmount
}
