package compat

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// client is one row of the matrix: a real client library and what it can do.
type client struct {
	name    string
	driver  driver
	profile profile
	// na maps a scenario id to why this client cannot express it.
	na map[string]string
	// apis lists, per scenario id, APIs this client needs beyond the
	// scenario's defaults (say, the legacy AlterConfigs).
	apis map[string][]int16
	// versions lists, per scenario id, API versions the broker must
	// advertise for this client to do the scenario at all (say,
	// librdkafka's feature checks).
	versions map[string][]versionNeed
}

// versionNeed: the client does the scenario only when the broker's
// advertised range of key includes version (-1: any version), and why.
type versionNeed struct {
	key     kmsg.Key
	version int16
	why     string
}

// The requests the suite makes of a client. They are also the JSON the
// external client scripts read on stdin.
type (
	adminReq struct {
		Bootstrap  string `json:"bootstrap"`
		Topic      string `json:"topic"`
		Partitions int32  `json:"partitions"`
	}
	produceReq struct {
		Bootstrap  string   `json:"bootstrap"`
		Topic      string   `json:"topic"`
		Partition  int32    `json:"partition"`
		Codec      string   `json:"codec"` // none, gzip, snappy, lz4, zstd
		Idempotent bool     `json:"idempotent"`
		Records    []record `json:"records"`
	}
	// consumeReq reads Count records of one partition from Offset,
	// without a consumer group (where the client has that).
	consumeReq struct {
		Bootstrap     string `json:"bootstrap"`
		Topic         string `json:"topic"`
		Partition     int32  `json:"partition"`
		Offset        int64  `json:"offset"`
		Count         int    `json:"count"`
		ReadCommitted bool   `json:"read_committed"`
	}
	// groupReq joins Group, subscribes to Topic (starting from the
	// earliest offset when the group has no commit), reads Count records,
	// commits their offsets synchronously and leaves.
	groupReq struct {
		Bootstrap string `json:"bootstrap"`
		Topic     string `json:"topic"`
		Group     string `json:"group"`
		Count     int    `json:"count"`
	}
	// txnReq produces Aborted in one transaction and aborts it, then
	// Committed in a second one and commits it, with one producer.
	txnReq struct {
		Bootstrap       string   `json:"bootstrap"`
		Topic           string   `json:"topic"`
		Partition       int32    `json:"partition"`
		TransactionalID string   `json:"transactional_id"`
		Aborted         []record `json:"aborted"`
		Committed       []record `json:"committed"`
	}
	configReq struct {
		Bootstrap string `json:"bootstrap"`
		Topic     string `json:"topic"`
		Key       string `json:"key"`
		Value     string `json:"value"`
	}
)

// driver is what a client library does for the suite. Each method is one
// self-contained use of the library: it builds its own producer, consumer or
// admin client and closes it (for external clients: one process).
type driver interface {
	version(ctx context.Context) (string, error)
	createTopic(ctx context.Context, r adminReq) error
	// topicPartitions is the partition count of r.Topic in the client's
	// own view of the metadata.
	topicPartitions(ctx context.Context, r adminReq) (int32, error)
	produce(ctx context.Context, r produceReq) error
	consume(ctx context.Context, r consumeReq) ([]record, error)
	groupConsume(ctx context.Context, r groupReq) ([]record, error)
	txnProduce(ctx context.Context, r txnReq) error
	describeConfig(ctx context.Context, r configReq) (string, error)
	alterConfig(ctx context.Context, r configReq) error
}

func allClients() []*client {
	return []*client{
		franzClient(),
		saramaClient(),
		kafkaGoClient(),
		confluentGoClient(),
		kcatClient(),
		pythonConfluentClient(),
		kafkaPythonClient(),
		kafkajsClient(),
	}
}

func k(keys ...kmsg.Key) []int16 {
	out := make([]int16, len(keys))
	for i, key := range keys {
		out[i] = key.Int16()
	}
	return out
}

// groupAPIs are the classic consumer group protocol's APIs.
var groupAPIs = k(kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat,
	kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch)

// librdkafka 2.0.2 (Debian's, under kcat and python3-confluent-kafka) turns
// features on from the broker's ApiVersions ranges (its feature table; see
// `kcat -d feature`). Where the broker's ranges leave a feature off, the
// client silently does without: it sends gzip, snappy or lz4 batches
// uncompressed, or refuses the balanced consumer.
func librdkafka202Versions() map[string][]versionNeed {
	const compressWhy = "librdkafka before 2.8 compresses with gzip, snappy or lz4 only when the broker's Produce versions include v0, " +
		"else it sends batches uncompressed (librdkafka issue 4956; Kafka 4.0 dropped Produce v0-v2)"
	const lz4Why = "librdkafka enables lz4 only when the broker's FindCoordinator versions include v0"
	const groupWhy = "librdkafka 2.0.2 enables its balanced consumer only when the broker's versions include FindCoordinator v0, " +
		"OffsetCommit v2, OffsetFetch v1, JoinGroup v0, SyncGroup v0, Heartbeat v0 and LeaveGroup v0"
	produce := versionNeed{kmsg.Produce, 0, compressWhy}
	return map[string][]versionNeed{
		"produce-gzip":   {produce},
		"produce-snappy": {produce},
		"produce-lz4":    {produce, {kmsg.FindCoordinator, 0, lz4Why}},
		"group": {
			{kmsg.FindCoordinator, 0, groupWhy}, {kmsg.OffsetCommit, 2, groupWhy}, {kmsg.OffsetFetch, 1, groupWhy},
			{kmsg.JoinGroup, 0, groupWhy}, {kmsg.SyncGroup, 0, groupWhy}, {kmsg.Heartbeat, 0, groupWhy},
			{kmsg.LeaveGroup, 0, groupWhy},
		},
	}
}
