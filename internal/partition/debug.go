package partition

import (
	"slices"

	"github.com/petrel-streaming/petrel/internal/model"
)

// RaftStatus is a replica's Raft state as its shard sees it, for the
// admin API's debug endpoint (a stuck election or commit shows here).
type RaftStatus struct {
	ID             uint64         `json:"id"`
	State          string         `json:"state"`
	Term           uint64         `json:"term"`
	Vote           uint64         `json:"vote"`
	Lead           uint64         `json:"lead"`
	Commit         uint64         `json:"commit"`
	Applied        uint64         `json:"applied"`
	LeadTransferee uint64         `json:"lead_transferee,omitempty"`
	Serving        bool           `json:"serving"`        // a leader that committed an entry of its term
	Quiesced       bool           `json:"quiesced"`       // not ticked
	FirstIndex     model.Index    `json:"first_index"`    // the log's first entry (compaction, retention)
	SnapshotIndex  model.Index    `json:"snapshot_index"` // the last snapshot taken or installed (0: none)
	AppendLast     model.Index    `json:"append_last"`
	Durable        model.Index    `json:"durable"`
	HighWatermark  model.Offset   `json:"high_watermark"`
	Waiters        int            `json:"waiters"`
	HeldResponses  int            `json:"held_responses"` // this replica's storage responses not yet delivered
	Progress       []PeerProgress `json:"progress,omitempty"`
}

// PeerProgress is a leader's view of one member.
type PeerProgress struct {
	ID           uint64 `json:"id"`
	Match        uint64 `json:"match"`
	Next         uint64 `json:"next"`
	State        string `json:"state"`
	RecentActive bool   `json:"recent_active"`
	Learner      bool   `json:"learner,omitempty"`
	Paused       bool   `json:"paused,omitempty"`
}

// RaftStatus reports the replica's Raft state. On its shard.
func (r *Replica) RaftStatus() RaftStatus {
	st := r.rn.Status()
	out := RaftStatus{ID: st.ID, State: st.RaftState.String(), Term: st.GetTerm(), Vote: st.GetVote(), Lead: st.Lead,
		Commit: st.GetCommit(), Applied: st.Applied, LeadTransferee: st.LeadTransferee, Serving: r.leader && r.ready,
		Quiesced: r.quiesced, AppendLast: r.appendLast, Durable: r.m.eng.DurableIndex(r.cfg.Key), HighWatermark: r.hw,
		Waiters: len(r.waiters), FirstIndex: r.log.FirstIndex()}
	if r.rs.snap != nil {
		out.SnapshotIndex = r.rs.snap.index
	}
	for _, h := range r.m.held {
		if h.r == r {
			out.HeldResponses += len(h.msgs)
		}
	}
	for _, rd := range r.m.rounds {
		for _, h := range rd.held {
			if h.r == r {
				out.HeldResponses += len(h.msgs)
			}
		}
	}
	for id, pr := range st.Progress {
		out.Progress = append(out.Progress, PeerProgress{ID: id, Match: pr.Match, Next: pr.Next, State: pr.State.String(),
			RecentActive: pr.RecentActive, Learner: pr.IsLearner, Paused: pr.MsgAppFlowPaused})
	}
	slices.SortFunc(out.Progress, func(a, b PeerProgress) int { return int(a.ID) - int(b.ID) })
	return out
}
