package node

import "github.com/petrel-streaming/petrel/internal/model"

// ControllerID implements kafka.Broker: the leader of the controller
// group (group 0) as this node's replica of it knows, -1 while none is
// known.
func (n *Node) ControllerID() model.NodeID {
	if n.ctrl == nil || n.ctrl.replica == nil {
		return -1
	}
	rs := n.ctrl.replica.State()
	switch {
	case rs == nil:
		return -1
	case rs.Leader:
		return n.cfg.NodeID
	}
	return rs.LeaderID
}
