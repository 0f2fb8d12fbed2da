package api

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
)

// apiError is a Kafka error code with a message for the response's
// ErrorMessage field.
type apiError struct {
	err *kerr.Error
	msg string
}

func (e *apiError) Error() string { return e.err.Message + ": " + e.msg }

func errorf(code *kerr.Error, format string, args ...any) *apiError {
	return &apiError{err: code, msg: fmt.Sprintf(format, args...)}
}

// codeOf maps an error to its Kafka error code and message.
func codeOf(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.err.Code, &ae.msg
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code, nil
	}
	msg := err.Error()
	return kerr.UnknownServerError.Code, &msg
}

const maxTopicNameLen = 249

// validateTopicName applies Kafka's rules: 1-249 characters from
// [a-zA-Z0-9._-], and not "." or "..".
func validateTopicName(name string) error {
	if name == "" {
		return errorf(kerr.InvalidTopicException, "topic name is empty")
	}
	if name == "." || name == ".." {
		return errorf(kerr.InvalidTopicException, "topic name cannot be %q", name)
	}
	if len(name) > maxTopicNameLen {
		return errorf(kerr.InvalidTopicException, "topic name is longer than %d characters", maxTopicNameLen)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errorf(kerr.InvalidTopicException, "topic name %q contains %q; legal characters are ASCII alphanumerics, '.', '_' and '-'", name, c)
		}
	}
	return nil
}

// collisionName maps '.' to '_': Kafka refuses topics that differ only there,
// because their metric names would collide.
func collisionName(name string) string { return strings.ReplaceAll(name, ".", "_") }

// createTopic creates a topic with its partitions, or with validateOnly just
// checks that it could. rf < 0 and partitions < 0 mean broker defaults.
func (b *Broker) createTopic(name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) (metadata.Topic, error) {
	if err := validateTopicName(name); err != nil {
		return metadata.Topic{}, err
	}
	if partitions == -1 {
		partitions = b.cfg.NumPartitions
	}
	if rf == -1 {
		rf = b.cfg.DefaultReplicationFactor
	}
	if partitions <= 0 {
		return metadata.Topic{}, errorf(kerr.InvalidPartitions, "number of partitions must be larger than 0")
	}
	if partitions > maxPartitionsPerTopic {
		return metadata.Topic{}, errorf(kerr.InvalidPartitions, "number of partitions %d is above the limit of %d", partitions, maxPartitionsPerTopic)
	}
	if rf <= 0 {
		return metadata.Topic{}, errorf(kerr.InvalidReplicationFactor, "replication factor must be larger than 0")
	}
	if rf > 1 {
		return metadata.Topic{}, errorf(kerr.InvalidReplicationFactor, "replication factor %d is larger than the 1 available broker (clustering is not implemented yet)", rf)
	}
	// Kept as Kafka describes them: parsed and printed again.
	norm := make(map[string]string, len(configs))
	for k, v := range configs {
		n, err := validateTopicConfig(k, v)
		if err != nil {
			return metadata.Topic{}, err
		}
		norm[k] = n
	}
	configs = norm
	if _, err := b.partitionConfig(configs); err != nil {
		return metadata.Topic{}, err
	}
	if t, ok := b.meta.Topic(name); ok {
		return t, errorf(kerr.TopicAlreadyExists, "topic %q already exists", name)
	}
	if strings.ContainsAny(name, "._") {
		cn := collisionName(name)
		for _, t := range b.meta.Topics() {
			if collisionName(t.Name) == cn {
				return metadata.Topic{}, errorf(kerr.InvalidTopicException, "topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", name, t.Name)
			}
		}
	}
	if validateOnly {
		return metadata.Topic{Name: name, Partitions: partitions, Configs: configs}, nil
	}
	var opened []*partition.Partition
	t, err := b.meta.CreateTopic(name, partitions, configs, func(t metadata.Topic) error {
		for i := int32(0); i < t.Partitions; i++ {
			// A leftover directory (e.g. from a crash during delete) must not
			// leak old data into the new topic.
			if err := os.RemoveAll(b.partitionDir(name, i)); err != nil {
				return err
			}
			p, err := b.openPartition(t, i, true)
			if err != nil {
				for _, p := range opened {
					p.Delete()
				}
				return err
			}
			opened = append(opened, p)
		}
		return nil
	})
	if errors.Is(err, metadata.ErrTopicExists) {
		return t, errorf(kerr.TopicAlreadyExists, "topic %q already exists", name)
	}
	if err != nil {
		return metadata.Topic{}, err
	}
	b.mu.Lock()
	b.topics[name] = &topicState{meta: t, partitions: opened}
	b.mu.Unlock()
	if strings.ContainsAny(name, "._") && !isInternalTopic(name) {
		b.log.Warn("topic name contains '.' or '_'; due to metric naming, topics that differ only there collide", "topic", name)
	}
	b.log.Info("created topic", "topic", name, "partitions", partitions, "topic_id", topicIDString(t.ID))
	return t, nil
}

const maxPartitionsPerTopic = 100000

// deleteTopic removes a topic and its data.
func (b *Broker) deleteTopic(name string) error {
	if isInternalTopic(name) {
		return errorf(kerr.InvalidRequest, "internal topic %s cannot be deleted", name)
	}
	err := b.meta.DeleteTopic(name, func(metadata.Topic) {
		b.mu.Lock()
		ts := b.topics[name]
		delete(b.topics, name)
		b.mu.Unlock()
		if ts == nil {
			return
		}
		for _, p := range ts.partitions {
			if err := p.Delete(); err != nil {
				b.log.Error("deleting partition data", "topic", name, "partition", p.Index, "err", err)
			}
		}
	})
	if errors.Is(err, metadata.ErrUnknownTopic) {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	if err == nil {
		b.log.Info("deleted topic", "topic", name)
		b.groups.TopicDeleted(name)
	}
	return err
}

func topicIDString(id [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
}
