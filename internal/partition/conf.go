package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Membership. A group starts with the voters its creator lists
// (Config.Peers) or, for a replica added later (Config.Join), with none:
// it learns its configuration from the leader's log. Changes are Raft
// configuration changes (ConfChangeV2, joint consensus, left
// automatically) proposed by the leader (SetVoters) and stored as
// internal entries of the log. Applying one updates raft's tracker and
// stores the resulting configuration, with its index, in the engine's
// metadata:
//
//	partition/conf/<key>        index u64 | ConfState (protobuf)
//	partition/confappend/<key>  index u64 of the last configuration
//	                            entry appended (staged with the entry)
//
// On open the stored configuration is raft's initial one. Its index may
// lag the commit index when a round persisted the commit before the
// entry was applied; then (the last configuration entry appended lies
// past it, up to the commit) raft starts with Applied at the stored
// configuration's index and applies the entries after it again (data
// entries only move the high watermark, so applying twice is harmless).

func confKey(k model.PartitionKey) string       { return "partition/conf/" + k.String() }
func confAppendKey(k model.PartitionKey) string { return "partition/confappend/" + k.String() }

// storedConf reads the group's stored configuration: its index and state
// (ok false when none was stored).
func (m *Manager) storedConf(key model.PartitionKey) (model.Index, *pb.ConfState, bool, error) {
	v, ok := m.eng.Get(confKey(key))
	if !ok {
		return 0, nil, false, nil
	}
	if len(v) < 8 {
		return 0, nil, false, fmt.Errorf("partition %s: stored configuration of %d bytes: %w", key, len(v), model.ErrCorrupt)
	}
	cs := &pb.ConfState{}
	if err := proto.Unmarshal(v[8:], cs); err != nil {
		return 0, nil, false, fmt.Errorf("partition %s: stored configuration: %v: %w", key, err, model.ErrCorrupt)
	}
	return model.Index(binary.BigEndian.Uint64(v)), cs, true, nil
}

// lastConfAppended is the index of the last configuration entry staged
// for the group's log (0: none).
func (m *Manager) lastConfAppended(key model.PartitionKey) model.Index {
	if v, ok := m.eng.Get(confAppendKey(key)); ok && len(v) == 8 {
		return model.Index(binary.BigEndian.Uint64(v))
	}
	return 0
}

// noteConfEntries stages the index of the last configuration entry among
// ents (appended in the same round as the entries).
func (r *Replica) noteConfEntries(ents []*pb.Entry) error {
	for i := len(ents) - 1; i >= 0; i-- {
		if t := ents[i].GetType(); t == pb.EntryConfChange || t == pb.EntryConfChangeV2 {
			return r.m.eng.Put(confAppendKey(r.cfg.Key), binary.BigEndian.AppendUint64(nil, ents[i].GetIndex()))
		}
	}
	return nil
}

// applyConf applies a committed configuration entry: raft's tracker, the
// stored configuration and the replica's member list follow it.
func (r *Replica) applyConf(e *pb.Entry) error {
	idx := model.Index(e.GetIndex())
	if idx <= r.confIndex {
		return nil // in the stored configuration already (applied again after a restart)
	}
	var cc pb.ConfChangeI
	switch e.GetType() {
	case pb.EntryConfChange:
		c := &pb.ConfChange{}
		if err := proto.Unmarshal(e.Data, c); err != nil {
			return fmt.Errorf("configuration entry %d: %v: %w", idx, err, model.ErrCorrupt)
		}
		cc = c
	default:
		c := &pb.ConfChangeV2{}
		if err := proto.Unmarshal(e.Data, c); err != nil {
			return fmt.Errorf("configuration entry %d: %v: %w", idx, err, model.ErrCorrupt)
		}
		cc = c
	}
	cs := r.rn.ApplyConfChange(cc)
	b, err := proto.Marshal(cs)
	if err != nil {
		return err
	}
	if err := r.m.eng.Put(confKey(r.cfg.Key), append(binary.BigEndian.AppendUint64(nil, uint64(idx)), b...)); err != nil {
		return err
	}
	r.confIndex, r.conf = idx, cs
	r.cfg.Peers = members(cs)
	r.rs.peers = r.cfg.Peers
	if r.leader {
		r.leaseVoters()
	}
	r.logg.Info("configuration changed", "index", idx, "voters", cs.GetVoters(), "outgoing", cs.GetVotersOutgoing(), "learners", cs.GetLearners())
	r.wake()
	r.publish()
	return nil
}

// members lists every node in a configuration, incoming voters first in
// raft's order, then outgoing voters and learners not already listed.
func members(cs *pb.ConfState) []model.NodeID {
	var out []model.NodeID
	for _, list := range [][]uint64{cs.GetVoters(), cs.GetVotersOutgoing(), cs.GetLearners(), cs.GetLearnersNext()} {
		for _, id := range list {
			if n := nodeID(id); !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// ErrConfChangePending: a configuration change is still under way (the
// caller tries again once it is done).
var ErrConfChangePending = errors.New("partition: a configuration change is under way")

// Voters returns the group's voters as this replica last applied them and
// whether the configuration is joint (a change half done).
func (r *Replica) Voters() ([]model.NodeID, bool) {
	if r.conf == nil {
		return slices.Clone(r.cfg.Peers), false
	}
	return nodeIDs(r.conf.GetVoters()), len(r.conf.GetVotersOutgoing()) > 0
}

// SetVoters proposes the move of the group's voters to target (one
// joint-consensus change, left automatically, or a simple one for a
// single change). The leader only; ErrConfChangePending while the
// configuration is joint. Raft allows one change at a time and turns a
// second proposal into a no-op: the caller compares Voters with its
// target and tries again until they match.
func (r *Replica) SetVoters(target []model.NodeID) error {
	if err := r.usable(); err != nil {
		return err
	}
	cur, joint := r.Voters()
	if joint {
		return ErrConfChangePending
	}
	var changes []*pb.ConfChangeSingle
	for _, n := range target {
		if !slices.Contains(cur, n) {
			id := raftID(n)
			changes = append(changes, &pb.ConfChangeSingle{Type: pb.ConfChangeAddNode.Enum(), NodeId: &id})
		}
	}
	for _, n := range cur {
		if !slices.Contains(target, n) {
			id := raftID(n)
			changes = append(changes, &pb.ConfChangeSingle{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: &id})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	r.wake()
	if err := r.rn.ProposeConfChange(&pb.ConfChangeV2{Changes: changes, Transition: pb.ConfChangeTransitionAuto.Enum()}); err != nil {
		return r.proposeErr(err)
	}
	r.markDirty()
	return nil
}

// SetPreferred names the replica placement wants as leader (the first of
// the partition's replicas after a reassignment).
func (r *Replica) SetPreferred(n model.NodeID) { r.preferred = n }

// AddLearner proposes adding node as a learner of the group (it receives
// the log and applies it, never votes). The leader only; a member already
// is left as it is.
func (r *Replica) AddLearner(n model.NodeID) error {
	if err := r.usable(); err != nil {
		return err
	}
	if slices.Contains(r.cfg.Peers, n) {
		return nil
	}
	if _, joint := r.Voters(); joint {
		return ErrConfChangePending
	}
	id := raftID(n)
	r.wake()
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: &id}}}
	if err := r.rn.ProposeConfChange(cc); err != nil {
		return r.proposeErr(err)
	}
	r.markDirty()
	return nil
}

// Members lists every node of the group's configuration (voters,
// outgoing voters, learners).
func (r *Replica) Members() []model.NodeID { return slices.Clone(r.cfg.Peers) }
