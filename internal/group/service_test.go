package group

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memLog is an in-memory Log: it keeps what was appended, can fail, and
// can hold appends until released.
type memLog struct {
	mu      sync.Mutex
	records []Record
	fail    error
	hold    chan struct{} // when set, Append waits for it (or ctx)
	entered chan struct{} // when set, Append signals it on entry
}

func (l *memLog) Append(ctx context.Context, rs []Record) error {
	l.mu.Lock()
	hold, fail := l.hold, l.fail
	l.mu.Unlock()
	if l.entered != nil {
		select {
		case l.entered <- struct{}{}:
		default:
		}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, rs...)
	return nil
}

func (l *memLog) all() func(func(Record, error) bool) {
	l.mu.Lock()
	rs := slices.Clone(l.records)
	l.mu.Unlock()
	return func(yield func(Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	cfg.MinSessionTimeout = 10 * time.Millisecond
	return cfg
}

func startService(t *testing.T, log *memLog) *Service {
	t.Helper()
	s, err := NewService(testConfig(), log, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(log.all()); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func joinReq(group, member string, session time.Duration) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group, r.MemberID, r.ProtocolType = group, member, "consumer"
	r.SessionTimeoutMillis = int32(session.Milliseconds())
	r.RebalanceTimeoutMillis = 5000
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta([]string{"t"})}}
	return r
}

// join does the two-step KIP-394 join and returns the response.
func join(t *testing.T, s *Service, client, group string, session time.Duration) *kmsg.JoinGroupResponse {
	t.Helper()
	jr, err := joinE(ctxT(t), s, client, group, session)
	if err != nil {
		t.Fatal(err)
	}
	return jr
}

// joinE is join for goroutines other than the test's.
func joinE(ctx context.Context, s *Service, client, group string, session time.Duration) (*kmsg.JoinGroupResponse, error) {
	resp, err := s.Do(ctx, Client{ID: client}, joinReq(group, "", session))
	if err != nil {
		return nil, err
	}
	jr := resp.(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != kerr.MemberIDRequired.Code {
		return nil, fmt.Errorf("first join: %s", errName(jr.ErrorCode))
	}
	resp, err = s.Do(ctx, Client{ID: client}, joinReq(group, jr.MemberID, session))
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.JoinGroupResponse), nil
}

func commitReq(group, member string, gen int32, offset int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.MemberID, r.Generation = group, member, gen
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = 0, offset
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	return r
}

func fetchOffset(t *testing.T, s *Service, group string) int64 {
	t.Helper()
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version = 8
	r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}}}
	resp, err := s.Do(ctxT(t), Client{}, r)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.OffsetFetchResponse).Groups[0].Topics[0].Partitions[0].Offset
}

// TestServiceGroupLifecycle: two members join concurrently, sync, commit;
// a second Service loaded from the log serves the offset.
func TestServiceGroupLifecycle(t *testing.T) {
	log := &memLog{}
	s := startService(t, log)
	// a joins alone (generation 1); b's join parks; a heartbeats until it
	// sees the rebalance and rejoins, as a client does.
	resps := make([]*kmsg.JoinGroupResponse, 2)
	resps[0] = join(t, s, "a", "g", 10*time.Second)
	done := make(chan error, 1)
	go func() {
		var err error
		resps[1], err = joinE(ctxT(t), s, "b", "g", 10*time.Second)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group, r.MemberID, r.Generation = "g", resps[0].MemberID, resps[0].Generation
		resp, err := s.Do(ctxT(t), Client{}, r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.(*kmsg.HeartbeatResponse).ErrorCode == kerr.RebalanceInProgress.Code {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no rebalance after b joined")
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	resp, err := s.Do(ctxT(t), Client{ID: "a"}, joinReq("g", resps[0].MemberID, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	resps[0] = resp.(*kmsg.JoinGroupResponse)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	gen, leader := resps[0].Generation, resps[0].LeaderID
	if resps[1].Generation != gen || resps[1].LeaderID != leader || leader == "" {
		t.Fatalf("members disagree: %+v / %+v", resps[0], resps[1])
	}
	var syncs [2]*kmsg.SyncGroupResponse
	for i := range resps {
		wg.Go(func() {
			r := kmsg.NewPtrSyncGroupRequest()
			r.Version = 5
			r.Group, r.MemberID, r.Generation = "g", resps[i].MemberID, gen
			if resps[i].MemberID == leader {
				for _, m := range resps[i].Members {
					r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m.MemberID, MemberAssignment: []byte("to " + m.MemberID)})
				}
			}
			resp, err := s.Do(ctxT(t), Client{}, r)
			if err != nil {
				t.Error(err)
				return
			}
			syncs[i] = resp.(*kmsg.SyncGroupResponse)
		})
	}
	wg.Wait()
	for i, sr := range syncs {
		if sr == nil || sr.ErrorCode != 0 || string(sr.MemberAssignment) != "to "+resps[i].MemberID {
			t.Fatalf("sync %d: %+v", i, sr)
		}
	}
	resp, err = s.Do(ctxT(t), Client{}, commitReq("g", resps[0].MemberID, gen, 42))
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit: %s", errName(code))
	}
	if got := fetchOffset(t, s, "g"); got != 42 {
		t.Fatalf("fetch: %d, want 42", got)
	}
	s2 := startService(t, log)
	if got := fetchOffset(t, s2, "g"); got != 42 {
		t.Fatalf("fetch after reload: %d, want 42", got)
	}
}

// TestServiceCancelParkedJoin: a JoinGroup parked in a rebalance returns
// ctx.Err() when its context ends, and the Service keeps serving.
func TestServiceCancelParkedJoin(t *testing.T) {
	s := startService(t, &memLog{})
	a := join(t, s, "a", "g", 10*time.Second)
	if a.ErrorCode != 0 {
		t.Fatalf("join a: %s", errName(a.ErrorCode))
	}
	// b's join parks: a must rejoin first (up to the 5 s rebalance timeout).
	first, err := s.Do(ctxT(t), Client{ID: "b"}, joinReq("g", "", 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	errc := make(chan error, 1)
	go func() {
		_, err := s.Do(ctx, Client{ID: "b"}, joinReq("g", first.(*kmsg.JoinGroupResponse).MemberID, 10*time.Second))
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled join: %v, want context.Canceled", err)
	}
	if got := fetchOffset(t, s, "g"); got != -1 {
		t.Fatalf("fetch after cancel: %d, want -1", got)
	}
}

// TestServiceSessionExpiry: a member that stops heartbeating is removed
// by the Service's timer (real time, polled with a deadline).
func TestServiceSessionExpiry(t *testing.T) {
	s := startService(t, &memLog{})
	if r := join(t, s, "a", "g", 20*time.Millisecond); r.ErrorCode != 0 {
		t.Fatalf("join: %s", errName(r.ErrorCode))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Groups = []string{"g"}
		resp, err := s.Do(ctxT(t), Client{}, r)
		if err != nil {
			t.Fatal(err)
		}
		g := resp.(*kmsg.DescribeGroupsResponse).Groups[0]
		if g.State == "Empty" && len(g.Members) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("member not expired: state %s, %d members", g.State, len(g.Members))
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestServiceLogFailure: a failed append fails the request and stops the
// Service; later requests get ErrLogFailed too.
func TestServiceLogFailure(t *testing.T) {
	boom := errors.New("disk on fire")
	s := startService(t, &memLog{fail: boom})
	_, err := s.Do(ctxT(t), Client{}, commitReq("g", "", -1, 1))
	if !errors.Is(err, ErrLogFailed) || !errors.Is(err, boom) {
		t.Fatalf("commit: %v, want ErrLogFailed wrapping the cause", err)
	}
	if _, err := s.Do(ctxT(t), Client{}, kmsg.NewPtrListGroupsRequest()); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("after failure: %v, want ErrLogFailed", err)
	}
	select { // the Service stopped on its own
	case <-s.Done():
	case <-ctxT(t).Done():
		t.Fatal("Done not closed after a failed append")
	}
}

// TestServiceClose: Close answers parked requests with ErrClosed and
// aborts an append that does not finish within its context.
func TestServiceClose(t *testing.T) {
	log := &memLog{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
	s, err := NewService(testConfig(), log, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Do(ctxT(t), Client{}, commitReq("g", "", -1, 1))
		errc <- err
	}()
	select { // the commit's append is now held
	case <-log.entered:
	case <-ctxT(t).Done():
		t.Fatal("commit never reached the log")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v, want DeadlineExceeded", err)
	}
	if err := <-errc; err == nil {
		t.Fatal("commit succeeded on a closed service")
	}
	if _, err := s.Do(ctxT(t), Client{}, kmsg.NewPtrListGroupsRequest()); err == nil {
		t.Fatal("Do after Close succeeded")
	}
	// A never-started Service closes at once.
	s2, _ := NewService(testConfig(), log, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Do(ctxT(t), Client{}, kmsg.NewPtrListGroupsRequest()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do on closed: %v", err)
	}
}
