package api

import (
	"slices"
	"strings"
	"time"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDescribeTransactions(req *kmsg.DescribeTransactionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		t := kmsg.NewDescribeTransactionsResponseTransactionState()
		t.TransactionalID = id
		d, err := b.txns.Describe(id)
		if err != nil {
			t.ErrorCode = err.Code
			resp.TransactionStates = append(resp.TransactionStates, t)
			continue
		}
		t.State, t.TimeoutMillis = string(d.State), int32(d.Timeout.Milliseconds())
		t.StartTimestamp, t.ProducerID, t.ProducerEpoch = -1, d.ProducerID, d.Epoch
		if d.State == coordinator.TxnOngoing {
			t.StartTimestamp = d.Start.UnixMilli()
		}
		for _, p := range d.Partitions {
			i := len(t.Topics) - 1
			if i < 0 || t.Topics[i].Topic != p.Topic {
				t.Topics = append(t.Topics, kmsg.DescribeTransactionsResponseTransactionStateTopic{Topic: p.Topic})
				i++
			}
			t.Topics[i].Partitions = append(t.Topics[i].Partitions, p.Partition)
		}
		resp.TransactionStates = append(resp.TransactionStates, t)
	}
	return resp
}

func (b *Broker) handleListTransactions(req *kmsg.ListTransactionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	all, err := b.txns.List()
	if err != nil {
		resp.ErrorCode = err.Code
		return resp
	}
	now := time.Now()
	for _, d := range all {
		if len(req.StateFilters) > 0 && !slices.ContainsFunc(req.StateFilters, func(s string) bool { return strings.EqualFold(s, string(d.State)) }) {
			continue
		}
		if len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, d.ProducerID) {
			continue
		}
		if req.DurationFilterMillis > 0 && (d.State != coordinator.TxnOngoing || now.Sub(d.Start).Milliseconds() < req.DurationFilterMillis) {
			continue
		}
		resp.TransactionStates = append(resp.TransactionStates, kmsg.ListTransactionsResponseTransactionState{
			TransactionalID: d.ID, ProducerID: d.ProducerID, TransactionState: string(d.State)})
	}
	return resp
}

// handleDescribeProducers lists the producers of partitions with their
// epochs, last sequences and open transactions.
func (b *Broker) handleDescribeProducers(req *kmsg.DescribeProducersRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, idx := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = idx
			p, _ := b.partition(rt.Topic, idx)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			for _, ps := range p.Producers() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = ps.ProducerID, int32(ps.Epoch), ps.LastSequence
				ap.LastTimestamp, ap.CurrentTxnStartOffset, ap.CoordinatorEpoch = ps.LastTimestamp, ps.TxnStartOffset, -1
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// handleWriteTxnMarkers writes markers as asked (Kafka's inter-broker API,
// also used by kafka-transactions.sh to abort hanging transactions).
func (b *Broker) handleWriteTxnMarkers(req *kmsg.WriteTxnMarkersRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, idx := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = idx
				p, _ := b.partition(t.Topic, idx)
				if p == nil {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				} else if err := writeMarker(p, m); err != nil {
					b.log.Error("writing transaction marker", "topic", t.Topic, "partition", idx, "producer", m.ProducerID, "err", err)
					rp.ErrorCode = kerr.KafkaStorageError.Code
				} else if t.Topic == coordinator.OffsetsTopic {
					b.groups.CompleteTxn(m.ProducerID, m.Committed)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}

// writeMarker writes m's marker to p and waits until it is durable.
func writeMarker(p *partition.Partition, m kmsg.WriteTxnMarkersRequestMarker) error {
	durable, err := p.WriteMarker(m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch)
	if err != nil {
		return err
	}
	return durable()
}
