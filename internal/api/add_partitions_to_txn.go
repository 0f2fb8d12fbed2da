package api

import (
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAddPartitionsToTxn (v0-v3, the client's form). If any partition is
// unknown, nothing is added: those get UNKNOWN_TOPIC_OR_PARTITION and the
// rest OPERATION_NOT_ATTEMPTED, as in Kafka.
func (b *Broker) handleAddPartitionsToTxn(req *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	var parts []coordinator.TxnPartition
	unknown := map[coordinator.TxnPartition]bool{}
	for _, rt := range req.Topics {
		for _, p := range rt.Partitions {
			tp := coordinator.TxnPartition{Topic: rt.Topic, Partition: p}
			if part, _ := b.partition(rt.Topic, p); part == nil || isInternalTopic(rt.Topic) {
				unknown[tp] = true
			}
			parts = append(parts, tp)
		}
	}
	var code int16
	if len(unknown) == 0 {
		if err := b.txns.AddPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts); err != nil {
			code = txnErrorCode(err, req.Version, 2)
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p, code
			switch {
			case unknown[coordinator.TxnPartition{Topic: rt.Topic, Partition: p}]:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(unknown) > 0:
				sp.ErrorCode = kerr.OperationNotAttempted.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// handleAddOffsetsToTxn adds the group's __consumer_offsets partition to the
// transaction, for a following TxnOffsetCommit.
func (b *Broker) handleAddOffsetsToTxn(req *kmsg.AddOffsetsToTxnRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	tp := coordinator.TxnPartition{Topic: coordinator.OffsetsTopic, Partition: b.groups.PartitionFor(req.Group)}
	if err := b.txns.AddPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, []coordinator.TxnPartition{tp}); err != nil {
		resp.ErrorCode = txnErrorCode(err, req.Version, 2)
	}
	return resp
}

func (b *Broker) handleEndTxn(req *kmsg.EndTxnRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if err := b.txns.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit); err != nil {
		resp.ErrorCode = txnErrorCode(err, req.Version, 2)
	}
	return resp
}

// txnErrorCode is the code of a transaction coordinator error for a request
// of this version: PRODUCER_FENCED (KIP-588) exists for clients from
// version fencedSince of the API; older ones get INVALID_PRODUCER_EPOCH,
// which they know, as Kafka's KafkaApis answers them.
func txnErrorCode(err *kerr.Error, version, fencedSince int16) int16 {
	if err == kerr.ProducerFenced && version < fencedSince {
		return kerr.InvalidProducerEpoch.Code
	}
	return err.Code
}
