package api

import (
	"errors"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleTxnOffsetCommit stores offsets as part of the producer's
// transaction; they become visible when it commits.
func (b *Broker) handleTxnOffsetCommit(rc *server.RequestContext, req *kmsg.TxnOffsetCommitRequest) server.Reply {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	cr := coordinator.TxnCommitRequest{Group: req.Group, MemberID: req.MemberID, Generation: -1,
		ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Offsets: map[string]map[int32]coordinator.Offset{}}
	if req.Version >= 3 {
		cr.Generation = req.Generation
	}
	if req.InstanceID != nil {
		cr.InstanceID = *req.InstanceID
	}
	for _, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = b.stageCommit(cr.Offsets, rt.Topic, rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	setAll := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
	}
	// The producer must be the current one, in a transaction that added
	// the group's offsets partition (AddOffsetsToTxn).
	tp := coordinator.TxnPartition{Topic: coordinator.OffsetsTopic, Partition: b.groups.PartitionFor(req.Group)}
	if err := b.txns.Verify(req.ProducerID, req.ProducerEpoch, tp); err != nil {
		// The codes Kafka's verification gives (AddPartitionsToTxnManager
		// turns PRODUCER_FENCED into INVALID_PRODUCER_EPOCH).
		switch {
		case errors.Is(err, coordinator.ErrTxnLoading):
			setAll(kerr.CoordinatorLoadInProgress.Code)
		case errors.Is(err, coordinator.ErrUnknownTxnPID):
			setAll(kerr.InvalidProducerIDMapping.Code)
		case errors.Is(err, coordinator.ErrProducerFenced):
			setAll(kerr.InvalidProducerEpoch.Code)
		default:
			setAll(kerr.InvalidTxnState.Code)
		}
		return now(rc, resp)
	}
	top, durable := b.groups.TxnCommit(cr)
	if top != nil {
		setAll(top.Code)
		return now(rc, resp)
	}
	return func() server.Response {
		if err := durable(); err != nil {
			b.log.Error("transactional offset commit not durable", "group", req.Group, "err", err)
			setAll(kerr.UnknownServerError.Code)
		}
		return server.Response{Msg: resp}
	}
}
