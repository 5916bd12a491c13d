package model

import "testing"

func TestTopicIDRoundTrip(t *testing.T) {
	var id TopicID
	for i := range id {
		id[i] = byte(i * 17)
	}
	got, err := ParseTopicID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "zz", id.String() + "0", "g" + id.String()[1:]} {
		if _, err := ParseTopicID(bad); err == nil {
			t.Errorf("ParseTopicID(%q) accepted", bad)
		}
	}
	if !(TopicID{}).IsZero() || id.IsZero() {
		t.Fatal("IsZero")
	}
	k := PartitionKey{Topic: id, Partition: 12}
	if k.String() != id.String()+"-12" {
		t.Fatalf("key string %q", k.String())
	}
	if Term(5).LeaderEpoch() != 5 {
		t.Fatal("leader epoch")
	}
}
