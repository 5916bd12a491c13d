package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// adminCall sends one request to the running node's admin API (5 s at
// most) and returns the body (≤ 64 KiB) and status; a status other than
// 200 is an error naming the node, the request and the broker's answer.
func (n *Node) adminCall(ctx context.Context, method, path, body string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+n.AdminAddr+path, strings.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("node %d: %s %s: %w", n.ID, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("node %d: %s %s: %s: %s", n.ID, method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, resp.StatusCode, err
}

// Digest is a replica's answer to the admin API's
// GET /v1/debug/partitions/kafka/{topic}/{partition}/digest: a CRC-32C
// over the bytes of the whole batches below Upto of the node's local
// replica, leader or follower. Replicas of a partition must agree on it
// for the same Upto (invariant 2: identical offsets, identical bytes).
type Digest struct {
	NodeID        int32  `json:"node_id"`
	HighWatermark int64  `json:"high_watermark"`
	LogStart      int64  `json:"log_start"`
	LogEnd        int64  `json:"log_end"`
	Upto          int64  `json:"upto"`
	CRC32C        uint32 `json:"crc32c"`
	Batches       int    `json:"batches"`
}

// ReplicaDigest asks the running node for the digest of its replica of
// topic/partition below upto (< 0: its own high watermark).
func (n *Node) ReplicaDigest(ctx context.Context, topic string, partition int32, upto int64) (Digest, error) {
	path := "/v1/debug/partitions/kafka/" + url.PathEscape(topic) + "/" + strconv.Itoa(int(partition)) + "/digest"
	if upto >= 0 {
		path += "?upto=" + strconv.FormatInt(upto, 10)
	}
	b, _, err := n.adminCall(ctx, http.MethodGet, path, "")
	if err != nil {
		return Digest{}, err
	}
	var d Digest
	if err := json.Unmarshal(b, &d); err != nil {
		return Digest{}, fmt.Errorf("node %d: digest of %s/%d: %w", n.ID, topic, partition, err)
	}
	return d, nil
}

// RaftStatus is the running node's answer to
// GET /v1/debug/partitions/kafka/{topic}/{partition}/raft (its replica's
// Raft state, as JSON), for failure reports.
func (n *Node) RaftStatus(ctx context.Context, topic string, partition int32) (string, error) {
	path := "/v1/debug/partitions/kafka/" + url.PathEscape(topic) + "/" + strconv.Itoa(int(partition)) + "/raft"
	b, _, err := n.adminCall(ctx, http.MethodGet, path, "")
	return strings.TrimSpace(string(b)), err
}
