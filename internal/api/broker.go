// Package api holds the Kafka API handlers of a broker: one file per API key,
// each decoding nothing itself (the server decoded with kmsg), validating,
// calling the partition and metadata services, and turning internal errors
// into Kafka error codes at the edge. Broker ties them together and owns the
// set of partitions hosted on this node.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// cleanShutdownFile marks a data directory whose broker stopped cleanly, so
// the next start trusts the indexes instead of scanning segment tails.
const cleanShutdownFile = ".samsa_cleanshutdown"

// Broker serves the Kafka APIs of one node.
type Broker struct {
	cfg       config.Broker
	dir       string
	clusterID string
	meta      *metadata.Store
	log       *slog.Logger
	lockFile  *os.File
	sessions  *fetchSessions
	groups    *coordinator.Coordinator
	txns      *coordinator.TxnCoordinator
	// The internal topics' logs; their topics are created on first use.
	offsetsLog, txnLog *internalLog

	mu     sync.RWMutex
	topics map[string]*topicState // by name

	dynMu   sync.RWMutex
	dynamic map[string]dynValue // broker configs set at run time
	// cleanerWake tells the cleaner loop that dynamic configs changed.
	cleanerWake chan struct{}

	stop     chan struct{}
	bgDone   sync.WaitGroup
	closeErr error
}

// topicState is a hosted topic: its metadata and open partitions.
type topicState struct {
	meta       metadata.Topic
	partitions []*partition.Partition
}

// ServerConfig is the network server's configuration for the broker
// properties in cfg (socket.request.max.bytes, connections.max.idle.ms,
// queued.max.requests).
func ServerConfig(cfg config.Broker) server.Config {
	return server.Config{
		MaxRequestBytes: cfg.SocketRequestMaxBytes,
		IdleTimeout:     cfg.ConnectionsMaxIdle,
		MaxInFlight:     cfg.QueuedMaxRequests,
	}
}

// Open opens the data directory (creating it), replays metadata and opens
// every partition, recovering their logs if the last shutdown was unclean.
func Open(cfg config.Broker, logger *slog.Logger) (*Broker, error) {
	dir := cfg.LogDirs[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log.dirs %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, dir: dir, log: logger, lockFile: lock, topics: make(map[string]*topicState),
		stop: make(chan struct{}), cleanerWake: make(chan struct{}, 1)}
	b.sessions = newFetchSessions(1000, b.topicNameByID)
	ok := false
	defer func() {
		if !ok {
			b.closePartitions()
			if b.meta != nil {
				b.meta.Close()
			}
			lock.Close()
		}
	}()
	if b.clusterID, err = loadMetaProperties(dir, cfg.NodeID, cfg.ClusterID); err != nil {
		return nil, err
	}
	if b.meta, err = metadata.Open(dir, logger); err != nil {
		return nil, err
	}
	b.loadDynamicConfigs()
	marker := filepath.Join(dir, cleanShutdownFile)
	_, statErr := os.Stat(marker)
	clean := statErr == nil
	if clean {
		// From here on a crash must lead to recovery.
		if err := os.Remove(marker); err != nil {
			return nil, fmt.Errorf("remove clean-shutdown marker: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	n := 0
	for _, t := range b.meta.Topics() {
		ts := &topicState{meta: t}
		for i := int32(0); i < t.Partitions; i++ {
			p, err := b.openPartition(t, i, clean)
			if err != nil {
				return nil, err
			}
			ts.partitions = append(ts.partitions, p)
			n++
		}
		b.topics[t.Name] = ts
	}
	logger.Info("log loaded", "dir", dir, "topics", len(b.topics), "partitions", n, "clean_shutdown", clean,
		"took", time.Since(start).Round(time.Millisecond))
	b.startGroups()
	b.startTxns()
	b.bgDone.Add(2)
	go b.every(100*time.Millisecond, b.flushDue)
	go b.every(cfg.LogRetentionCheckInterval, b.applyRetention)
	if cfg.LogFlushOffsetCheckpointInterval > 0 {
		b.bgDone.Add(1)
		go b.every(cfg.LogFlushOffsetCheckpointInterval, b.checkpointRecoveryPoints)
	}
	if cfg.LogCleanerEnable {
		b.bgDone.Add(1)
		go b.cleanerLoop()
	}
	ok = true
	return b, nil
}

func (b *Broker) partitionDir(topic string, p int32) string {
	return filepath.Join(b.dir, topic+"-"+strconv.Itoa(int(p)))
}

func (b *Broker) openPartition(t metadata.Topic, i int32, clean bool) (*partition.Partition, error) {
	cfg, err := b.partitionConfig(t.Configs)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", t.Name, err)
	}
	p, err := partition.Open(b.partitionDir(t.Name, i), t.Name, i, cfg, clean, b.log)
	if err != nil {
		return nil, err
	}
	p.SetTxnVerifier(b.verifyTxn(t.Name, i))
	return p, nil
}

// flushDue applies flush.ms / log.flush.interval.ms.
func (b *Broker) flushDue() {
	for _, p := range b.allPartitions() {
		if err := p.FlushIfDue(); err != nil && !errors.Is(err, os.ErrClosed) {
			b.log.Error("periodic flush failed", "topic", p.Topic, "partition", p.Index, "err", err)
		}
	}
}

// checkpointRecoveryPoints fsyncs every log with data past its recovery
// point and records it (log.flush.offset.checkpoint.interval.ms), so that
// recovery after a crash scans at most one interval's appends even when
// flushing is left to the OS.
func (b *Broker) checkpointRecoveryPoints() {
	for _, p := range b.allPartitions() {
		select {
		case <-b.stop: // a round fsyncs every busy partition: do not hold up Close
			return
		default:
		}
		if err := p.Checkpoint(); err != nil && !errors.Is(err, log.ErrClosed) {
			b.log.Error("recovery point checkpoint failed", "topic", p.Topic, "partition", p.Index, "err", err)
		}
	}
}

// allPartitions returns every open partition.
func (b *Broker) allPartitions() []*partition.Partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var ps []*partition.Partition
	for _, t := range b.topics {
		ps = append(ps, t.partitions...)
	}
	return ps
}

// every runs fn each interval until the broker stops. The caller has
// added to b.bgDone for it.
func (b *Broker) every(interval time.Duration, fn func()) {
	defer b.bgDone.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
			fn()
		}
	}
}

// applyRetention deletes segments beyond retention on every partition
// (every log.retention.check.interval.ms).
func (b *Broker) applyRetention() {
	for _, p := range b.allPartitions() {
		n, err := p.ApplyRetention()
		switch {
		case err != nil && !errors.Is(err, log.ErrClosed):
			b.log.Error("retention failed", "topic", p.Topic, "partition", p.Index, "err", err)
		case n > 0:
			b.log.Info("deleted segments by retention", "topic", p.Topic, "partition", p.Index, "segments", n,
				"log_start_offset", p.LogStartOffset())
		}
	}
}

// cleanerLoop compacts partitions of compacted topics when they are due,
// one at a time, every log.cleaner.backoff.ms.
func (b *Broker) cleanerLoop() {
	defer b.bgDone.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-b.stop
		cancel()
	}()
	settings, backoff := b.cleanerSettings()
	tick := time.NewTicker(backoff)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.cleanerWake: // dynamic configs changed: a new backoff starts now
			if s, d := b.cleanerSettings(); d != backoff || s != settings {
				settings, backoff = s, d
				tick.Reset(backoff)
			}
			continue
		case <-tick.C:
		}
		settings, _ = b.cleanerSettings()
		for _, p := range b.allPartitions() {
			stats, cleaned, err := p.MaybeClean(ctx, settings)
			switch {
			case err != nil && ctx.Err() == nil && !errors.Is(err, log.ErrClosed):
				b.log.Error("log cleaning failed", "topic", p.Topic, "partition", p.Index, "err", err)
			case cleaned:
				b.log.Info("cleaned log", "topic", p.Topic, "partition", p.Index, "records_removed", stats.RecordsRemoved,
					"bytes_read", stats.BytesRead, "bytes_written", stats.BytesWritten, "cleaned_up_to", stats.CleanedUpTo)
			}
		}
	}
}

// Close flushes and closes every partition and marks the shutdown clean.
func (b *Broker) Close() error {
	close(b.stop)
	b.bgDone.Wait()
	b.groups.Close()
	err := b.closePartitions()
	if cerr := b.meta.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if werr := os.WriteFile(filepath.Join(b.dir, cleanShutdownFile), nil, 0o644); werr != nil {
			err = werr
		} else {
			err = syncDir(b.dir)
		}
	}
	b.lockFile.Close()
	return err
}

func (b *Broker) closePartitions() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var first error
	for _, t := range b.topics {
		for _, p := range t.partitions {
			if err := p.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// lockDir takes an exclusive lock on the data directory, as Kafka does, so
// two brokers never share one.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another process: %w", dir, err)
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// partition returns an open partition, or nil.
func (b *Broker) partition(topic string, idx int32) (*partition.Partition, *topicState) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	t := b.topics[topic]
	if t == nil {
		return nil, nil
	}
	if idx < 0 || int(idx) >= len(t.partitions) {
		return nil, t
	}
	return t.partitions[idx], t
}

// topicByID returns the name of the topic with this ID.
func (b *Broker) topicNameByID(id [16]byte) (string, bool) {
	return b.meta.TopicName(id)
}

// Versions implements server.Handler: the API keys and versions we serve.
func (b *Broker) Versions(key int16) (int16, int16, bool) {
	v, ok := supportedVersions[key]
	return v[0], v[1], ok
}

// Handle implements server.Handler.
func (b *Broker) Handle(ctx context.Context, rc *server.RequestContext, req kmsg.Request) server.Reply {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return now(rc, b.handleApiVersions(rc, r))
	case *kmsg.MetadataRequest:
		return now(rc, b.handleMetadata(r))
	case *kmsg.ProduceRequest:
		return b.handleProduce(rc, r)
	case *kmsg.FetchRequest:
		return b.handleFetch(ctx, rc, r)
	case *kmsg.ListOffsetsRequest:
		return now(rc, b.handleListOffsets(r))
	case *kmsg.CreateTopicsRequest:
		return now(rc, b.handleCreateTopics(r))
	case *kmsg.DeleteTopicsRequest:
		return now(rc, b.handleDeleteTopics(r))
	case *kmsg.CreatePartitionsRequest:
		return now(rc, b.handleCreatePartitions(r))
	case *kmsg.ElectLeadersRequest:
		return now(rc, b.handleElectLeaders(r))
	case *kmsg.AlterPartitionAssignmentsRequest:
		return now(rc, b.handleAlterPartitionReassignments(r))
	case *kmsg.ListPartitionReassignmentsRequest:
		return now(rc, b.handleListPartitionReassignments(r))
	case *kmsg.DescribeClusterRequest:
		return now(rc, b.handleDescribeCluster(r))
	case *kmsg.OffsetForLeaderEpochRequest:
		return now(rc, b.handleOffsetForLeaderEpoch(r))
	case *kmsg.DescribeConfigsRequest:
		return now(rc, b.handleDescribeConfigs(r))
	case *kmsg.FindCoordinatorRequest:
		return now(rc, b.handleFindCoordinator(r))
	case *kmsg.JoinGroupRequest:
		return b.handleJoinGroup(ctx, rc, r)
	case *kmsg.SyncGroupRequest:
		return b.handleSyncGroup(ctx, r)
	case *kmsg.HeartbeatRequest:
		return now(rc, b.handleHeartbeat(r))
	case *kmsg.LeaveGroupRequest:
		return now(rc, b.handleLeaveGroup(r))
	case *kmsg.OffsetCommitRequest:
		return b.handleOffsetCommit(rc, r)
	case *kmsg.OffsetFetchRequest:
		return now(rc, b.handleOffsetFetch(r))
	case *kmsg.ListGroupsRequest:
		return now(rc, b.handleListGroups(r))
	case *kmsg.DescribeGroupsRequest:
		return now(rc, b.handleDescribeGroups(r))
	case *kmsg.DescribeACLsRequest:
		return now(rc, b.handleDescribeACLs(r))
	case *kmsg.CreateACLsRequest:
		return now(rc, b.handleCreateACLs(r))
	case *kmsg.DeleteACLsRequest:
		return now(rc, b.handleDeleteACLs(r))
	case *kmsg.DeleteGroupsRequest:
		return now(rc, b.handleDeleteGroups(r))
	case *kmsg.OffsetDeleteRequest:
		return now(rc, b.handleOffsetDelete(r))
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return now(rc, b.handleConsumerGroupHeartbeat(rc, r))
	case *kmsg.ConsumerGroupDescribeRequest:
		return now(rc, b.handleConsumerGroupDescribe(r))
	case *kmsg.AlterConfigsRequest:
		return now(rc, b.handleAlterConfigs(r))
	case *kmsg.IncrementalAlterConfigsRequest:
		return now(rc, b.handleIncrementalAlterConfigs(r))
	case *kmsg.DeleteRecordsRequest:
		return now(rc, b.handleDeleteRecords(r))
	case *kmsg.DescribeLogDirsRequest:
		return now(rc, b.handleDescribeLogDirs(r))
	case *kmsg.AddPartitionsToTxnRequest:
		return now(rc, b.handleAddPartitionsToTxn(r))
	case *kmsg.AddOffsetsToTxnRequest:
		return now(rc, b.handleAddOffsetsToTxn(r))
	case *kmsg.EndTxnRequest:
		return now(rc, b.handleEndTxn(r))
	case *kmsg.TxnOffsetCommitRequest:
		return b.handleTxnOffsetCommit(rc, r)
	case *kmsg.WriteTxnMarkersRequest:
		return now(rc, b.handleWriteTxnMarkers(r))
	case *kmsg.DescribeTransactionsRequest:
		return now(rc, b.handleDescribeTransactions(r))
	case *kmsg.ListTransactionsRequest:
		return now(rc, b.handleListTransactions(r))
	case *kmsg.DescribeProducersRequest:
		return now(rc, b.handleDescribeProducers(r))
	case *kmsg.InitProducerIDRequest:
		return now(rc, b.handleInitProducerID(r))
	}
	// Versions() only admits the keys above, so this is unreachable unless
	// the two drift apart; answer nothing and let the client time out
	// rather than crash.
	// (TestEveryAdvertisedAPIHasAHandler keeps them together.)
	b.log.Error("no handler for advertised API", "key", rc.APIKey)
	return nil
}

// now answers with resp, complete when Handle returns (the server may write
// it without handing it to the connection's writer; see RequestContext.Ready).
func now(rc *server.RequestContext, resp kmsg.Response) server.Reply {
	return rc.Ready(server.Response{Msg: resp})
}
