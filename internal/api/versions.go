package api

// supportedVersions lists every API key this broker implements with the
// version range whose semantics are implemented. ApiVersions advertises
// exactly this table, and the server rejects anything outside it.
var supportedVersions = map[int16][2]int16{
	// Produce v0-v2 can only carry message format v0/v1, which is refused
	// with UNSUPPORTED_FOR_MESSAGE_FORMAT; they are advertised because
	// librdkafka before 2.8 only compresses when Produce v0 is listed.
	0:  {0, 13}, // Produce: v13 addresses topics by ID
	1:  {4, 17}, // Fetch: v12+ flexible, v13+ topic IDs (KIP-516)
	2:  {1, 10}, // ListOffsets
	3:  {0, 13}, // Metadata
	8:  {0, 9},  // OffsetCommit (v9: member epochs of KIP-848 groups)
	9:  {0, 9},  // OffsetFetch (v8+: several groups)
	10: {0, 6},  // FindCoordinator (groups and transactions)
	11: {0, 9},  // JoinGroup (KIP-394 member IDs, KIP-345 static members)
	12: {0, 4},  // Heartbeat
	13: {0, 5},  // LeaveGroup (v3+: batched members)
	14: {0, 5},  // SyncGroup
	15: {0, 6},  // DescribeGroups (v6: GROUP_ID_NOT_FOUND for a group that does not exist)
	16: {0, 5},  // ListGroups (v4+ state filter, v5+ type filter)
	18: {0, 4},  // ApiVersions
	19: {0, 7},  // CreateTopics
	20: {0, 6},  // DeleteTopics
	21: {0, 2},  // DeleteRecords
	22: {0, 5},  // InitProducerId (idempotent and transactional producers)
	23: {2, 4},  // OffsetForLeaderEpoch
	24: {0, 3},  // AddPartitionsToTxn (the client form; v4+ is broker-to-broker)
	25: {0, 3},  // AddOffsetsToTxn
	26: {0, 4},  // EndTxn (v5, KIP-890's epoch bump per transaction, is not implemented)
	27: {0, 1},  // WriteTxnMarkers
	28: {0, 3},  // TxnOffsetCommit
	29: {0, 3},  // DescribeAcls (no authorizer: SECURITY_DISABLED, as Kafka)
	30: {0, 3},  // CreateAcls (the same)
	31: {0, 3},  // DeleteAcls (the same)
	32: {0, 4},  // DescribeConfigs (topics, broker, groups)
	33: {0, 2},  // AlterConfigs (topics, groups, and the dynamic broker configs: topic defaults, cleaner throttles)
	35: {0, 4},  // DescribeLogDirs
	37: {0, 3},  // CreatePartitions
	42: {0, 2},  // DeleteGroups
	43: {0, 2},  // ElectLeaders (one node: never needed)
	44: {0, 1},  // IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT; the same resources)
	45: {0, 1},  // AlterPartitionReassignments (one node: only [node.id]; v1 KIP-860)
	46: {0, 0},  // ListPartitionReassignments (one node: always empty)
	47: {0, 0},  // OffsetDelete
	60: {0, 1},  // DescribeCluster
	61: {0, 0},  // DescribeProducers
	65: {0, 0},  // DescribeTransactions
	66: {0, 1},  // ListTransactions
	68: {0, 1},  // ConsumerGroupHeartbeat (KIP-848; uniform and range assignors)
	69: {0, 1},  // ConsumerGroupDescribe
}
