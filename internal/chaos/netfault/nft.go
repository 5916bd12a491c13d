package netfault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// ErrUnavailable: what netfault needs is missing here (not root, no nft,
// no unshare, no ip); the message says which.
var ErrUnavailable = errors.New("netfault: unavailable")

// nftTimeout bounds one nft run.
const nftTimeout = 10 * time.Second

// Net applies faults to the network namespace the process runs in, through
// nft, in its own tables only (FaultTable, SourceTable). Use it only
// inside a namespace of your own (see Enter): the rules would otherwise
// apply to the host. Safe for use by any goroutine (each call is one nft
// transaction; the last one wins).
type Net struct {
	nft string
	log *slog.Logger
}

// Open finds nft. logger may be nil.
func Open(logger *slog.Logger) (*Net, error) {
	path, err := exec.LookPath("nft")
	if err != nil {
		return nil, fmt.Errorf("%w: no nft in PATH (apt-get install nftables)", ErrUnavailable)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Net{nft: path, log: logger}, nil
}

// run gives script to `nft -f -`: one atomic transaction.
func (n *Net) run(ctx context.Context, script []byte) error {
	ctx, cancel := context.WithTimeout(ctx, nftTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.nft, "-f", "-")
	cmd.Stdin = bytes.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netfault: nft -f: %v: %s\nscript:\n%s", err, strings.TrimSpace(string(out)), script)
	}
	return nil
}

// Apply replaces the fault in place with r (empty Rules heal).
func (n *Net) Apply(ctx context.Context, r *Rules) error {
	if err := r.Err(); err != nil {
		return err
	}
	if r.Empty() {
		return n.Heal(ctx)
	}
	n.log.Info("netfault: apply", "cuts", len(r.cut), "lossy", len(r.loss))
	return n.run(ctx, r.AppendScript(nil))
}

// Partition replaces the fault in place with a partition between groups
// (see Rules.Partition).
func (n *Net) Partition(ctx context.Context, groups ...[]string) error {
	return n.Apply(ctx, new(Rules).Partition(groups...))
}

// Isolate replaces the fault in place with addr cut from each of others,
// both ways.
func (n *Net) Isolate(ctx context.Context, addr string, others ...string) error {
	return n.Apply(ctx, new(Rules).Isolate(addr, others...))
}

// Loss replaces the fault in place with pct % loss between a and b.
func (n *Net) Loss(ctx context.Context, a, b string, pct int) error {
	return n.Apply(ctx, new(Rules).Loss(a, b, pct))
}

// Heal deletes the fault table: every link works again. Idempotent.
func (n *Net) Heal(ctx context.Context) error {
	n.log.Info("netfault: heal")
	return n.run(ctx, appendDeleteTable(nil, "inet", FaultTable))
}

// Sources replaces the source-address mapping (see AppendSourceScript):
// install it before the processes it maps open their connections (only
// new connections are mapped).
func (n *Net) Sources(ctx context.Context, srcs []Source) error {
	script, err := AppendSourceScript(nil, srcs)
	if err != nil {
		return err
	}
	return n.run(ctx, script)
}

// Ruleset is `nft list ruleset`, for reports and tests.
func (n *Net) Ruleset(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, nftTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.nft, "list", "ruleset").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("netfault: nft list ruleset: %v: %s", err, out)
	}
	return string(out), nil
}
