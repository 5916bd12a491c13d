package cluster

import (
	"fmt"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

// BenchmarkApplyCreateTopic measures the backend's cost of one topic of n
// partitions on a state already holding 1,000 topics, including the read
// view a node publishes after each command.
func BenchmarkApplyCreateTopic(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			s := NewState()
			idx := model.Index(0)
			apply := func(c Command) {
				idx++
				if _, err := s.Apply(idx, c); err != nil {
					b.Fatal(err)
				}
			}
			apply(&RegisterBroker{NodeID: 1, KafkaAddr: "h:1", RPCAddr: "h:2"})
			for i := range 1000 {
				apply(&CreateTopic{Name: fmt.Sprintf("base-%d", i), ID: testTopicID(i + 1), Partitions: 1, ReplicationFactor: 1,
					Assignment: [][]model.NodeID{{1}}})
			}
			assignment := make([][]model.NodeID, n)
			for i := range assignment {
				assignment[i] = []model.NodeID{1}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				var id model.TopicID
				id[0], id[1], id[2], id[3] = 1, byte(i>>16), byte(i>>8), byte(i)
				apply(&CreateTopic{Name: fmt.Sprintf("t-%d", i), ID: id, Partitions: int32(n), ReplicationFactor: 1, Assignment: assignment})
				_ = s.Tables()
				b.StopTimer()
				apply(&DeleteTopic{ID: id})
				b.StartTimer()
			}
		})
	}
}
