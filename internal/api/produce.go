package api

import (
	"errors"
	"sync"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleProduce appends each partition's batches (the connection's
// requests are handled one at a time, so a producer's in-flight requests
// land in order), then returns a reply that waits until the data is as
// durable as the flush policy promises. The partitions of one large request
// are appended in parallel: they are independent, and their pwrites then
// use every core.
func (b *Broker) handleProduce(rc *server.RequestContext, req *kmsg.ProduceRequest) server.Reply {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	validAcks := req.Acks == 0 || req.Acks == 1 || req.Acks == -1
	type job struct {
		ti, pi  int
		topic   string
		records []byte
		part    *partition.Partition
		res     partition.AppendResult
		err     error
	}
	n := 0
	for _, rt := range req.Topics {
		n += len(rt.Partitions)
	}
	jobs := make([]job, 0, n) // the goroutines below take pointers into it: never grown
	resp.Topics = make([]kmsg.ProduceResponseTopic, 0, len(req.Topics))
	total := 0
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		name := rt.Topic
		nameErr := error(nil)
		if req.Version >= 13 {
			if n, ok := b.topicNameByID(rt.TopicID); ok {
				name = n
			} else {
				nameErr = errorf(kerr.UnknownTopicID, "no topic with ID %s", topicIDString(rt.TopicID))
			}
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			var err error
			switch {
			case !validAcks:
				err = errorf(kerr.InvalidRequiredAcks, "acks must be -1, 0 or 1, got %d", req.Acks)
			case req.Version < 3:
				err = errorf(kerr.UnsupportedForMessageFormat, "Produce v%d carries message format v0/v1, which this broker does not store; use Produce v3+ (RecordBatch v2)", req.Version)
			case nameErr != nil:
				err = nameErr
			default:
				jobs = append(jobs, job{ti: len(resp.Topics), pi: len(st.Partitions), topic: name, records: rp.Records})
				total += len(rp.Records)
			}
			sp.ErrorCode, sp.ErrorMessage = produceError(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	run := func(j *job) {
		idx := resp.Topics[j.ti].Partitions[j.pi].Partition
		j.part, j.res, j.err = b.appendTo(j.topic, idx, j.records, req.Acks)
	}
	if len(jobs) > 1 && total >= parallelAppendBytes {
		var wg sync.WaitGroup
		for i := 1; i < len(jobs); i++ {
			wg.Add(1)
			go func() { defer wg.Done(); run(&jobs[i]) }()
		}
		run(&jobs[0])
		wg.Wait() // the records alias the request frame: done before returning
	} else {
		for i := range jobs {
			run(&jobs[i])
		}
	}
	var (
		durable sync.WaitGroup
		waits   bool // some partition's response waits for an fsync
		mu      sync.Mutex
		failed  []*job
	)
	for i := range jobs {
		j := &jobs[i]
		sp := &resp.Topics[j.ti].Partitions[j.pi]
		sp.ErrorCode, sp.ErrorMessage = produceError(j.err)
		if j.err != nil {
			sp.ErrorRecords = recordErrors(req.Version, j.err)
			sp.LogStartOffset = failedLogStartOffset(j.part, sp.ErrorCode)
			continue
		}
		sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = j.res.BaseOffset, j.res.LogAppendTime, j.res.LogStartOffset
		if !j.res.Duplicate {
			// Woken only now: a fetch woken by the first partition of the
			// request finds every partition appended.
			j.part.Wake()
		}
		if j.res.Durable != nil {
			waits = true
			durable.Add(1)
			go func() { // fsyncs of different partitions overlap
				defer durable.Done()
				if err := j.res.Durable(); err != nil {
					b.log.Error("flush failed", "topic", j.topic, "partition", sp.Partition, "err", err)
					mu.Lock()
					j.err = err
					failed = append(failed, j)
					mu.Unlock()
				}
			}()
		}
	}
	if req.Acks == 0 {
		return nil // no response; the flushes run on their own
	}
	if !waits {
		return rc.Ready(server.Response{Msg: resp}) // nothing to fsync first
	}
	return func() server.Response {
		durable.Wait()
		for _, j := range failed {
			sp := &resp.Topics[j.ti].Partitions[j.pi]
			sp.ErrorCode = kerr.KafkaStorageError.Code
			msg := j.err.Error()
			sp.ErrorMessage = &msg
			sp.BaseOffset = -1
		}
		return server.Response{Msg: resp}
	}
}

// parallelAppendBytes is the request size from which partitions are
// appended in parallel; below it goroutines cost more than they save.
const parallelAppendBytes = 256 << 10

// appendTo appends records to a partition, creating the topic first when
// auto.create.topics.enable allows.
func (b *Broker) appendTo(topic string, idx int32, records []byte, acks int16) (*partition.Partition, partition.AppendResult, error) {
	if isInternalTopic(topic) {
		return nil, partition.AppendResult{}, errorf(kerr.InvalidTopicException, "cannot produce to internal topic %s", topic)
	}
	p, ts := b.partition(topic, idx)
	if ts == nil && b.cfg.AutoCreateTopics && validateTopicName(topic) == nil {
		if _, err := b.createTopic(topic, -1, -1, nil, false); err != nil {
			if code, _ := codeOf(err); code != kerr.TopicAlreadyExists.Code {
				return nil, partition.AppendResult{}, err
			}
		}
		p, ts = b.partition(topic, idx)
	}
	if p == nil {
		return nil, partition.AppendResult{}, errorf(kerr.UnknownTopicOrPartition, "%s-%d is not hosted here", topic, idx)
	}
	if min := p.Config().MinInsyncReplicas; acks == -1 && min > 1 {
		return nil, partition.AppendResult{}, errorf(kerr.NotEnoughReplicas, "min.insync.replicas=%d but %s-%d has 1 in-sync replica (this node)", min, topic, idx)
	}
	res, err := p.AppendQuiet(records)
	return p, res, err
}

// produceErrors maps the append path's errors to Kafka error codes.
var produceErrors = []struct {
	err  error
	code *kerr.Error
}{
	{log.ErrCorruptMessage, kerr.CorruptMessage},
	{log.ErrMessageTooLarge, kerr.MessageTooLarge},
	{log.ErrInvalidRecord, kerr.InvalidRecord},
	{log.ErrUnsupportedMagic, kerr.UnsupportedForMessageFormat},
	{partition.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{partition.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{partition.ErrTransactionalBatch, kerr.InvalidRecord},
	{partition.ErrTxnNotStarted, kerr.InvalidTxnState},
	{partition.ErrInvalidTimestamp, kerr.InvalidTimestamp},
	{partition.ErrKeylessOnCompacted, kerr.InvalidRecord},
	{partition.ErrClosed, kerr.NotLeaderForPartition},
}

func produceError(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	for _, e := range produceErrors {
		if errors.Is(err, e.err) {
			msg := err.Error()
			return e.code.Code, &msg
		}
	}
	return codeOf(err)
}

// failedLogStartOffset is the log start offset a failed partition's
// response carries, as Kafka's ReplicaManager.appendToLocalLog: -1 for the
// errors that say the log was not reached or the data was unfit (unknown
// partition, not the leader, too large, corrupt, storage), else the log's
// start offset. An idempotent producer told UNKNOWN_PRODUCER_ID or
// OUT_OF_ORDER_SEQUENCE compares it with its last acknowledged offset to
// tell retention from data loss.
func failedLogStartOffset(p *partition.Partition, code int16) int64 {
	switch code {
	case kerr.UnknownTopicOrPartition.Code, kerr.NotLeaderForPartition.Code, kerr.MessageTooLarge.Code,
		kerr.RecordListTooLarge.Code, kerr.CorruptMessage.Code, kerr.KafkaStorageError.Code:
		return -1
	}
	if p == nil {
		return -1
	}
	return p.LogStartOffset()
}

// recordErrors lists the records that made a partition's append fail
// (KIP-467, Produce v8+), so that clients fail only those records with the
// partition's error and the rest of the batch as refused with them.
func recordErrors(version int16, err error) []kmsg.ProduceResponseTopicPartitionErrorRecord {
	var rve *partition.RecordValidationError
	if version < 8 || !errors.As(err, &rve) {
		return nil
	}
	out := make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(rve.Records))
	for i, r := range rve.Records {
		out[i] = kmsg.NewProduceResponseTopicPartitionErrorRecord()
		out[i].RelativeOffset = r.Index
		msg := r.Message
		out[i].ErrorMessage = &msg
	}
	return out
}
