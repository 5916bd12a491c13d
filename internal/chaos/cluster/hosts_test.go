package cluster_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

// TestHostsAndGroups: a node given its own host listens (Kafka, admin,
// RPC) and advertises there, and runs with the group given; the lists
// must have one entry per node.
func TestHostsAndGroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a node with another group needs root")
	}
	const host, gid = "127.0.0.12", 60099
	c, err := cluster.New(cluster.Config{Binary: petrelBinary(t), Dir: t.TempDir(), Hosts: []string{host}, GIDs: []uint32{gid}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := c.Node(0)
	for _, a := range []string{n.KafkaAddr, n.AdminAddr, n.RPCAddr} {
		if h, _, err := net.SplitHostPort(a); err != nil || h != host {
			t.Errorf("address %s: host %q (%v), want %s", a, h, err, host)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(n.Pid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Gid:" && f[1] != strconv.Itoa(gid) {
			t.Errorf("node runs with group %s, want %d", f[1], gid)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 || net.JoinHostPort(md.Brokers[0].Host, strconv.Itoa(int(md.Brokers[0].Port))) != n.KafkaAddr {
		t.Errorf("brokers advertised %+v, want one at %s", md.Brokers, n.KafkaAddr)
	}

	if _, err := cluster.New(cluster.Config{Binary: "petrel", Dir: t.TempDir(), Nodes: 3, Hosts: []string{host}}); err == nil {
		t.Error("3 nodes with 1 host: no error")
	}
	if _, err := cluster.New(cluster.Config{Binary: "petrel", Dir: t.TempDir(), Nodes: 2, GIDs: []uint32{1, 2, 3}}); err == nil {
		t.Error("2 nodes with 3 groups: no error")
	}
}
