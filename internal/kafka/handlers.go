package kafka

import "fmt"

// RegisterBroker registers every key Petrel's broker serves on reg, each
// built by its key file.
func RegisterBroker(reg *Registry, b Broker, ids ProducerIDs) error {
	for _, a := range []API{
		produceAPI(b),
		fetchAPI(b),
		listOffsetsAPI(b),
		metadataAPI(b),
		createTopicsAPI(b),
		deleteTopicsAPI(b),
		initProducerIDAPI(ids),
		describeConfigsAPI(b),
		alterConfigsAPI(b),
		incrementalAlterConfigsAPI(b),
		createPartitionsAPI(b),
		electLeadersAPI(b),
		alterPartitionReassignmentsAPI(b),
		listPartitionReassignmentsAPI(b),
		describeClusterAPI(b),
		describeLogDirsAPI(b),
		deleteRecordsAPI(b),
		describeProducersAPI(b),
		offsetForLeaderEpochAPI(b),
	} {
		if err := reg.Register(a); err != nil {
			return fmt.Errorf("kafka: register key %d: %w", a.Key, err)
		}
	}
	return nil
}
