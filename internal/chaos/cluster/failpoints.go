package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ErrNoFailpoints: the node's binary was built without -tags failpoints
// (its admin API has no /v1/failpoints).
var ErrNoFailpoints = errors.New("cluster: the broker has no failpoints (build it with -tags failpoints)")

// SetFailpoint arms failpoint name of the running node with spec (package
// failpoint: "20*off->panic", "off", …) through its admin API.
func (n *Node) SetFailpoint(ctx context.Context, name, spec string) error {
	_, err := n.failpointCall(ctx, http.MethodPut, "/v1/failpoints/"+name, spec)
	return err
}

// CheckFailpoints returns nil when the running node serves /v1/failpoints,
// ErrNoFailpoints when it does not.
func (n *Node) CheckFailpoints(ctx context.Context) error {
	_, err := n.failpointCall(ctx, http.MethodGet, "/v1/failpoints", "")
	return err
}

func (n *Node) failpointCall(ctx context.Context, method, path, body string) (string, error) {
	b, status, err := n.adminCall(ctx, method, path, body)
	if status == http.StatusNotFound && path == "/v1/failpoints" {
		return "", fmt.Errorf("node %d: %w", n.ID, ErrNoFailpoints)
	}
	return string(b), err
}

// ExpectExit marks the running process's coming exit as caused by the
// harness (a crash point it armed), so it is no unexpected exit; false
// withdraws the mark when the crash did not come. ErrNotRunning when no
// process runs.
func (n *Node) ExpectExit(expected bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return fmt.Errorf("node %d: %w", n.ID, ErrNotRunning)
	}
	n.proc.expected.Store(expected)
	return nil
}
