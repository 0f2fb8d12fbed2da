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
