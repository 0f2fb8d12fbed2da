package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newTopicsCmd is `samsa topics`: topic administration against any Kafka
// broker, in the spirit of kafka-topics.sh.
func newTopicsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create, list, describe and delete topics on a Kafka broker",
		// Without this, cobra would print help for a mistyped subcommand
		// and exit 0; NoArgs reports it as an unknown command.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(
		newTopicsCreateCmd(cf),
		newTopicsListCmd(cf),
		newTopicsDescribeCmd(cf),
		newTopicsDeleteCmd(cf),
	)
	return cmd
}

func newTopicsCreateCmd(cf *clientFlags) *cobra.Command {
	var (
		partitions        int32
		replicationFactor int16
		configPairs       []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create topics",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			configs, err := parseTopicConfigs(configPairs)
			if err != nil {
				return err
			}
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {

				resps, err := adm.CreateTopics(ctx, partitions, replicationFactor, configs, names...)
				if err != nil {
					return fmt.Errorf("create topics: %w", err)
				}
				return reportEach(cmd.OutOrStdout(), names, resps, "create topic", "Created topic",
					func(r kadm.CreateTopicResponse) (string, error) { return r.ErrMessage, r.Err })
			})
		},
	}
	fs := cmd.Flags()
	fs.Int32Var(&partitions, "partitions", -1, "number of partitions (-1: broker default)")
	fs.Int16Var(&replicationFactor, "replication-factor", -1, "replicas per partition (-1: broker default)")
	fs.StringArrayVar(&configPairs, "config", nil, "topic config as key=value (repeatable), e.g. retention.ms=60000")
	return cmd
}

// parseTopicConfigs turns repeated key=value flags into the map kadm expects.
func parseTopicConfigs(pairs []string) (map[string]*string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	configs := make(map[string]*string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--config %q: want key=value", p)
		}
		if _, dup := configs[k]; dup {
			return nil, fmt.Errorf("--config %q: key given twice", k)
		}
		configs[k] = &v
	}
	return configs, nil
}

func newTopicsListCmd(cf *clientFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topics with their partition count and replication factor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {

				topics, err := adm.ListTopicsWithInternal(ctx)
				if err != nil {
					return fmt.Errorf("list topics: %w", err)
				}
				if !all {
					topics.FilterInternal()
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION-FACTOR")
				for _, t := range topics.Sorted() {
					fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Topic, len(t.Partitions), topicReplicationFactor(t))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include internal topics such as __consumer_offsets")
	return cmd
}

// topicReplicationFactor is the largest replica count among the topic's
// partitions (they are normally all equal).
func topicReplicationFactor(t kadm.TopicDetail) int {
	rf := 0
	for _, p := range t.Partitions {
		rf = max(rf, len(p.Replicas))
	}
	return rf
}

func newTopicsDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe [NAME...]",
		Short: "Describe topics: id, configs, and per partition leader, replicas, ISR and offsets",
		Long: "Describe the named topics, or all non-internal topics when none is named.\n" +
			"Configs lists the topic-level overrides; offsets are the log start offset\n" +
			"and the log end offset (high watermark) of each partition.",
		RunE: func(cmd *cobra.Command, names []string) error {
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
				return describeTopics(ctx, adm, cmd.OutOrStdout(), names)
			})
		},
	}
}

func describeTopics(ctx context.Context, adm *kadm.Client, out io.Writer, names []string) error {
	topics, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe topics: %w", err)
	}
	if len(names) == 0 {
		names = topics.Names()
	}
	var errs []error
	var found []string
	for _, name := range names {
		t, ok := topics[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("describe topic %q: broker did not answer for it", name))
		case t.Err != nil:
			errs = append(errs, brokerError(fmt.Sprintf("describe topic %q", name), t.Err, ""))
		default:
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return errors.Join(errs...)
	}

	configs, err := adm.DescribeTopicConfigs(ctx, found...)
	if err != nil {
		return fmt.Errorf("describe topic configs: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, found...)
	if err != nil {
		return fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, found...)
	if err != nil {
		return fmt.Errorf("list log end offsets: %w", err)
	}

	for _, name := range found {
		t := topics[name]
		overrides, err := topicConfigOverrides(configs, name)
		if err != nil {
			errs = append(errs, err)
		}
		fmt.Fprintf(out, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
			name, formatTopicID(t.ID), len(t.Partitions), topicReplicationFactor(t), overrides)
		for _, p := range t.Partitions.Sorted() {
			fmt.Fprintf(out, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\tLogStartOffset: %s\tLogEndOffset: %s",
				name, p.Partition, formatBrokerID(p.Leader), formatBrokerIDs(p.Replicas), formatBrokerIDs(p.ISR),
				formatListedOffset(starts, name, p.Partition), formatListedOffset(ends, name, p.Partition))
			if len(p.OfflineReplicas) > 0 {
				fmt.Fprintf(out, "\tOffline: %s", formatBrokerIDs(p.OfflineReplicas))
			}
			if p.Err != nil {
				fmt.Fprintf(out, "\tError: %v", p.Err)
			}
			fmt.Fprintln(out)
		}
	}
	return errors.Join(errs...)
}

// topicConfigOverrides formats the configs set on the topic itself (not
// broker or built-in defaults) as "k=v,k=v", sorted by key, like
// kafka-topics.sh does.
func topicConfigOverrides(configs kadm.ResourceConfigs, topic string) (string, error) {
	rc, err := configs.On(topic, nil)
	if err != nil {
		return "", fmt.Errorf("describe configs of topic %q: %w", topic, err)
	}
	if rc.Err != nil {
		return "", brokerError(fmt.Sprintf("describe configs of topic %q", topic), rc.Err, rc.ErrMessage)
	}
	var kvs []string
	for _, c := range rc.Configs {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := c.MaybeValue()
		if c.Sensitive {
			v = "(sensitive)"
		}
		kvs = append(kvs, c.Key+"="+v)
	}
	slices.Sort(kvs)
	return strings.Join(kvs, ","), nil
}

// formatTopicID prints a topic ID the way Kafka's tools do (URL-safe base64
// without padding), so it can be compared with their output.
func formatTopicID(id kadm.TopicID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func formatBrokerID(id int32) string {
	if id < 0 {
		return "none"
	}
	return fmt.Sprint(id)
}

func formatBrokerIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}

func formatListedOffset(offsets kadm.ListedOffsets, topic string, partition int32) string {
	o, ok := offsets.Lookup(topic, partition)
	switch {
	case !ok:
		return "unknown"
	case o.Err != nil:
		return fmt.Sprintf("error(%v)", o.Err)
	}
	return fmt.Sprint(o.Offset)
}

func newTopicsDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete topics and all their records",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {

				resps, err := adm.DeleteTopics(ctx, names...)
				if err != nil {
					return fmt.Errorf("delete topics: %w", err)
				}
				return reportEach(cmd.OutOrStdout(), names, resps, "delete topic", "Deleted topic",
					func(r kadm.DeleteTopicResponse) (string, error) { return r.ErrMessage, r.Err })
			})
		},
	}
}
