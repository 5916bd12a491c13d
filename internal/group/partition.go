package group

import "unicode/utf16"

// PartitionFor returns the __consumer_offsets partition that coordinates
// groupID, by Kafka's rule: Utils.abs(groupID.hashCode()) % partitions,
// with Java's String.hashCode over UTF-16 code units and Utils.abs mapping
// MinInt32 to 0. partitions must be positive.
func PartitionFor(groupID string, partitions int) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(groupID)) {
		h = 31*h + int32(u)
	}
	switch {
	case h == -1<<31:
		h = 0
	case h < 0:
		h = -h
	}
	return h % int32(partitions)
}
