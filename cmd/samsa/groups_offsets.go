package main

// `samsa groups reset-offsets` and `samsa groups delete-offsets`: moving
// and deleting a group's committed offsets, as kafka-consumer-groups.sh does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// resetOptions are the flags of `groups reset-offsets`.
type resetOptions struct {
	group      string
	topics     []string
	allTopics  bool
	toEarliest bool
	toLatest   bool
	toCurrent  bool
	toOffset   int64
	shiftBy    int64
	toDatetime string
	execute    bool
	dryRun     bool
}

// resetMode is the flag that says where to move the offsets.
type resetMode string

const (
	resetToEarliest resetMode = "to-earliest"
	resetToLatest   resetMode = "to-latest"
	resetToCurrent  resetMode = "to-current"
	resetToOffset   resetMode = "to-offset"
	resetShiftBy    resetMode = "shift-by"
	resetToDatetime resetMode = "to-datetime"
)

func newGroupsResetOffsetsCmd(cf *clientFlags) *cobra.Command {
	var o resetOptions
	cmd := &cobra.Command{
		Use:   "reset-offsets --group GROUP (--topic TOPIC[:P,...]... | --all-topics) (--to-earliest | --to-latest | --to-offset N | --to-datetime T | --shift-by N | --to-current) [--execute]",
		Short: "Move a group's committed offsets (a dry run unless --execute is given)",
		Long: "Compute new committed offsets for a group and print them as a table; with\n" +
			"--execute, also commit them. Offsets can only be reset while the group has no\n" +
			"active members (state Empty), as with kafka-consumer-groups.sh.\n\n" +
			"--topic TOPIC resets every partition of the topic, --topic TOPIC:0,2 only those;\n" +
			"--all-topics resets every partition the group has an offset for.\n" +
			"New offsets are kept between the log start and log end offsets.\n" +
			"--to-datetime takes 2026-01-02T15:04:05 with optional .sss fraction and zone\n" +
			"(Z or +hh:mm; local time without one) and picks, per partition, the first\n" +
			"record at or after that time (the log end offset if there is none).\n" +
			"--to-current keeps committed offsets (the log end for partitions without one).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := o.mode(cmd)
			if err != nil {
				return err
			}
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
				return resetOffsets(ctx, adm, cmd.OutOrStdout(), cmd.ErrOrStderr(), o, mode)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.group, "group", "", "the group whose offsets to reset (required)")
	fs.StringArrayVar(&o.topics, "topic", nil, "TOPIC or TOPIC:PARTITION,... to reset (repeatable)")
	fs.BoolVar(&o.allTopics, "all-topics", false, "reset every partition the group has a committed offset for")
	fs.BoolVar(&o.toEarliest, string(resetToEarliest), false, "reset to the log start offset")
	fs.BoolVar(&o.toLatest, string(resetToLatest), false, "reset to the log end offset")
	fs.BoolVar(&o.toCurrent, string(resetToCurrent), false, "keep the committed offset (log end where there is none)")
	fs.Int64Var(&o.toOffset, string(resetToOffset), 0, "reset to this offset")
	fs.Int64Var(&o.shiftBy, string(resetShiftBy), 0, "move the committed offset by N (negative: back)")
	fs.StringVar(&o.toDatetime, string(resetToDatetime), "", "reset to the first record at or after this time")
	fs.BoolVar(&o.execute, "execute", false, "commit the new offsets (default: only print them)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "only print the new offsets (the default)")
	return cmd
}

// mode checks the flag combination and returns the chosen reset mode.
func (o *resetOptions) mode(cmd *cobra.Command) (resetMode, error) {
	if o.group == "" {
		return "", errors.New("--group is required")
	}
	if o.execute && o.dryRun {
		return "", errors.New("--execute and --dry-run are mutually exclusive")
	}
	switch {
	case o.allTopics && len(o.topics) > 0:
		return "", errors.New("--topic and --all-topics are mutually exclusive")
	case !o.allTopics && len(o.topics) == 0:
		return "", errors.New("name the partitions to reset with --topic or --all-topics")
	}
	fs := cmd.Flags()
	chosen := map[resetMode]bool{
		resetToEarliest: o.toEarliest,
		resetToLatest:   o.toLatest,
		resetToCurrent:  o.toCurrent,
		resetToOffset:   fs.Changed(string(resetToOffset)),
		resetShiftBy:    fs.Changed(string(resetShiftBy)),
		resetToDatetime: fs.Changed(string(resetToDatetime)),
	}
	var modes []string
	var mode resetMode
	for m, on := range chosen {
		if on {
			modes = append(modes, "--"+string(m))
			mode = m
		}
	}
	slices.Sort(modes)
	switch len(modes) {
	case 0:
		return "", errors.New("say where to reset to: one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by or --to-current")
	case 1:
	default:
		return "", fmt.Errorf("%s are mutually exclusive; give one", strings.Join(modes, ", "))
	}
	if mode == resetToOffset && o.toOffset < 0 {
		return "", fmt.Errorf("--to-offset %d: offsets are not negative", o.toOffset)
	}
	if mode == resetToDatetime {
		if _, err := parseResetDatetime(o.toDatetime); err != nil {
			return "", err
		}
	}
	return mode, nil
}

func resetOffsets(ctx context.Context, adm *kadm.Client, out, errOut io.Writer, o resetOptions, mode resetMode) error {
	described, err := adm.DescribeGroups(ctx, o.group)
	if err != nil {
		return fmt.Errorf("describe group %q: %w", o.group, err)
	}
	d, ok := described[o.group]
	switch {
	case !ok:
		return fmt.Errorf("describe group %q: broker did not answer for it", o.group)
	case errors.Is(d.Err, kerr.GroupIDNotFound):
		// No such group (DescribeGroups v6+): nothing to stop, and the
		// reset commits its first offsets, as kafka-consumer-groups.sh does.
	case d.Err != nil:
		return brokerError(fmt.Sprintf("describe group %q", o.group), d.Err, d.ErrMessage)
	case d.State != "Empty" && d.State != "Dead":
		// Kafka's rule too: the members would overwrite the new offsets
		// with their own commits, so only an inactive group is reset.
		return fmt.Errorf("cannot reset offsets of group %q: it has active members (state %s, %d members); "+
			"offsets can only be reset while the group is inactive, so stop its consumers first",
			o.group, d.State, len(d.Members))
	}
	committed, err := adm.FetchOffsets(ctx, o.group)
	if err != nil {
		return fmt.Errorf("fetch offsets of group %q: %w", o.group, err)
	}

	var targets kadm.TopicsSet
	if o.allTopics {
		if targets = committedPartitions(committed); len(targets) == 0 {
			return fmt.Errorf("group %q has no committed offsets; name the topics to reset with --topic", o.group)
		}
	} else {
		specs, err := parseTopicPartitionsSpecs(o.topics)
		if err != nil {
			return err
		}
		if targets, err = resolveTopicPartitions(ctx, adm, specs); err != nil {
			return err
		}
	}
	topics := targets.Topics()
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list log end offsets: %w", err)
	}
	var atTime kadm.ListedOffsets
	if mode == resetToDatetime {
		t, err := parseResetDatetime(o.toDatetime)
		if err != nil {
			return err
		}
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topics...); err != nil {
			return fmt.Errorf("list offsets at %s: %w", t.Format(time.RFC3339Nano), err)
		}
	}

	// Compute every new offset before committing any, so that a bad
	// partition leaves the group untouched.
	newOffsets := make(kadm.Offsets)
	var errs []error
	for _, t := range targets.Sorted() {
		for _, p := range t.Partitions {
			start, err := listedOffset(starts, t.Topic, p)
			if err != nil {
				errs = append(errs, fmt.Errorf("log start offset of %s partition %d: %w", t.Topic, p, err))
				continue
			}
			end, err := listedOffset(ends, t.Topic, p)
			if err != nil {
				errs = append(errs, fmt.Errorf("log end offset of %s partition %d: %w", t.Topic, p, err))
				continue
			}
			current, hasCurrent := int64(-1), false
			if c, ok := committed.Lookup(t.Topic, p); ok && c.Err == nil && c.At >= 0 {
				current, hasCurrent = c.At, true
			}
			var want int64
			switch mode {
			case resetToEarliest:
				want = start
			case resetToLatest:
				want = end
			case resetToCurrent:
				want = end
				if hasCurrent {
					want = current
				}
			case resetToOffset:
				want = o.toOffset
			case resetShiftBy:
				if !hasCurrent {
					errs = append(errs, fmt.Errorf("cannot shift %s partition %d: group %q has no committed offset for it", t.Topic, p, o.group))
					continue
				}
				want = shiftOffset(current, o.shiftBy)
			case resetToDatetime:
				if want, err = listedOffset(atTime, t.Topic, p); err != nil {
					errs = append(errs, fmt.Errorf("offset by time of %s partition %d: %w", t.Topic, p, err))
					continue
				}
			}
			at, moved := clampOffset(want, start, end)
			if moved {
				fmt.Fprintf(errOut, "%s partition %d: offset %d is outside the log (start %d, end %d); using %d\n",
					t.Topic, p, want, start, end, at)
			}
			newOffsets.Add(kadm.Offset{Topic: t.Topic, Partition: p, At: at, LeaderEpoch: -1})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	if o.execute {
		resps, err := adm.CommitOffsets(ctx, o.group, newOffsets)
		if err != nil {
			return fmt.Errorf("commit offsets of group %q: %w", o.group, err)
		}
		resps.Each(func(r kadm.OffsetResponse) {
			if r.Err == nil {
				return
			}
			newOffsets.Delete(r.Topic, r.Partition)
			msg := fmt.Sprintf("commit offset %d for %s partition %d", r.At, r.Topic, r.Partition)
			if errors.Is(r.Err, kerr.UnknownMemberID) || errors.Is(r.Err, kerr.RebalanceInProgress) ||
				errors.Is(r.Err, kerr.IllegalGeneration) {
				msg += " (a consumer joined the group meanwhile; stop it and retry)"
			}
			errs = append(errs, fmt.Errorf("%s: %w", msg, r.Err))
		})
	}

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET")
	for _, t := range targets.Sorted() {
		for _, p := range t.Partitions {
			if no, ok := newOffsets.Lookup(t.Topic, p); ok {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", o.group, t.Topic, p, no.At)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !o.execute {
		fmt.Fprintln(errOut, "Dry run: nothing was committed. Add --execute to commit these offsets.")
	}
	return errors.Join(errs...)
}

// listedOffset is listedPartitionOffset that also refuses a negative
// offset (a broker's "none", e.g. no record at or after a timestamp).
func listedOffset(offsets kadm.ListedOffsets, topic string, partition int32) (int64, error) {
	o, err := listedPartitionOffset(offsets, topic, partition)
	if err == nil && o < 0 {
		return 0, errors.New("broker returned no offset")
	}
	return o, err
}

func newGroupsDeleteOffsetsCmd(cf *clientFlags) *cobra.Command {
	var (
		group  string
		topics []string
	)
	cmd := &cobra.Command{
		Use:   "delete-offsets --group GROUP --topic TOPIC[:P,...]...",
		Short: "Delete a group's committed offsets for topics its members do not consume",
		Long: "Delete committed offsets of a group (OffsetDelete). --topic TOPIC deletes the\n" +
			"offsets of every partition of the topic, --topic TOPIC:0,2 only those. A broker\n" +
			"refuses (GROUP_SUBSCRIBED_TO_TOPIC) for topics that active members consume.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if group == "" {
				return errors.New("--group is required")
			}
			if len(topics) == 0 {
				return errors.New("name the offsets to delete with --topic")
			}
			specs, err := parseTopicPartitionsSpecs(topics)
			if err != nil {
				return err
			}
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
				return deleteGroupOffsets(ctx, adm, cmd.OutOrStdout(), group, specs)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&group, "group", "", "the group whose offsets to delete (required)")
	fs.StringArrayVar(&topics, "topic", nil, "TOPIC or TOPIC:PARTITION,... whose offsets to delete (repeatable)")
	return cmd
}

func deleteGroupOffsets(ctx context.Context, adm *kadm.Client, out io.Writer, group string, specs []topicPartitionsSpec) error {
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("fetch offsets of group %q: %w", group, err)
	}
	have := committedPartitions(committed)
	var whole []string // topics named without partitions
	for _, s := range specs {
		if s.partitions == nil {
			whole = append(whole, s.topic)
		}
	}
	var details kadm.TopicDetails
	if len(whole) > 0 {
		if details, err = adm.ListTopics(ctx, uniqueStrings(whole)...); err != nil {
			return fmt.Errorf("describe topics: %w", err)
		}
	}
	set := make(kadm.TopicsSet)
	for _, s := range specs {
		if s.partitions != nil {
			set.Add(s.topic, s.partitions...)
			continue
		}
		// Every partition of the topic, and those the group has offsets
		// for even if the topic is gone (its offsets linger otherwise).
		var ps []int32
		if td, ok := details[s.topic]; ok && td.Err == nil {
			ps = td.Partitions.Numbers()
		}
		for p := range have[s.topic] {
			ps = append(ps, p)
		}
		if len(ps) == 0 {
			return fmt.Errorf("topic %q does not exist and group %q has no offsets for it", s.topic, group)
		}
		set.Add(s.topic, ps...)
	}

	resps, err := adm.DeleteOffsets(ctx, group, set)
	if err != nil {
		return fmt.Errorf("delete offsets of group %q: %w", group, err)
	}
	var errs []error
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tSTATUS")
	for _, t := range set.Sorted() {
		for _, p := range t.Partitions {
			status := "Successful"
			perr, ok := resps.Lookup(t.Topic, p)
			if !ok {
				perr = errors.New("broker did not answer for it")
			}
			if perr != nil {
				status = "Error: " + kafkaErrorName(perr)
				errs = append(errs, fmt.Errorf("delete offset of %s partition %d: %w", t.Topic, p, perr))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Topic, p, status)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// topicPartitionsSpec is one --topic value: a topic and optionally some of
// its partitions ("orders" or "orders:0,2").
type topicPartitionsSpec struct {
	topic      string
	partitions []int32 // nil: all partitions
}

func parseTopicPartitionsSpec(s string) (topicPartitionsSpec, error) {
	// Topic names cannot contain ':' (Kafka allows [a-zA-Z0-9._-]).
	topic, list, hasList := strings.Cut(s, ":")
	topic = strings.TrimSpace(topic)
	if topic == "" {
		return topicPartitionsSpec{}, fmt.Errorf("--topic %q: want TOPIC or TOPIC:PARTITION,...", s)
	}
	spec := topicPartitionsSpec{topic: topic}
	if !hasList {
		return spec, nil
	}
	for _, f := range strings.Split(list, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || p < 0 {
			return topicPartitionsSpec{}, fmt.Errorf("--topic %q: partition %q is not a non-negative number", s, f)
		}
		if !slices.Contains(spec.partitions, int32(p)) {
			spec.partitions = append(spec.partitions, int32(p))
		}
	}
	return spec, nil
}

func parseTopicPartitionsSpecs(values []string) ([]topicPartitionsSpec, error) {
	specs := make([]topicPartitionsSpec, 0, len(values))
	for _, v := range values {
		s, err := parseTopicPartitionsSpec(v)
		if err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// resolveTopicPartitions expands --topic specs into partitions, checking
// against the broker's metadata that the topics and partitions exist.
func resolveTopicPartitions(ctx context.Context, adm *kadm.Client, specs []topicPartitionsSpec) (kadm.TopicsSet, error) {
	var topics []string
	for _, s := range specs {
		topics = append(topics, s.topic)
	}
	topics = uniqueStrings(topics)
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topics: %w", err)
	}
	set := make(kadm.TopicsSet)
	var errs []error
	for _, s := range specs {
		td, ok := details[s.topic]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("topic %q: broker did not answer for it", s.topic))
			continue
		case td.Err != nil:
			errs = append(errs, fmt.Errorf("topic %q: %w", s.topic, td.Err))
			continue
		}
		if s.partitions == nil {
			set.Add(s.topic, td.Partitions.Numbers()...)
			continue
		}
		for _, p := range s.partitions {
			if _, ok := td.Partitions[p]; !ok {
				errs = append(errs, fmt.Errorf("topic %q has no partition %d (it has %d)", s.topic, p, len(td.Partitions)))
				continue
			}
			set.Add(s.topic, p)
		}
	}
	return set, errors.Join(errs...)
}

// parseResetDatetime parses a --to-datetime value: 2026-01-02T15:04:05 with
// optional fractional seconds and an optional zone (Z, +hh:mm or +hhmm);
// without a zone the time is local, as with kafka-consumer-groups.sh.
func parseResetDatetime(s string) (time.Time, error) {
	// Go accepts fractional seconds after the seconds field while parsing
	// even when the layout has none.
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--to-datetime %q: want YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm]", s)
}

// clampOffset keeps a target offset within [start, end], the offsets a
// consumer can resume from, and says whether it had to move it.
func clampOffset(o, start, end int64) (int64, bool) {
	switch {
	case o < start:
		return start, true
	case o > end:
		return end, true
	}
	return o, false
}

// shiftOffset is o+n without wrapping around.
func shiftOffset(o, n int64) int64 {
	switch {
	case n > 0 && o > math.MaxInt64-n:
		return math.MaxInt64
	case n < 0 && o < math.MinInt64-n:
		return math.MinInt64
	}
	return o + n
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// uniqueStrings drops repeated entries, keeping the first of each.
func uniqueStrings(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// kafkaErrorName is the Kafka error name of err (e.g. NON_EMPTY_GROUP), or
// its text when it is not a Kafka error.
func kafkaErrorName(err error) string {
	if ke, ok := errors.AsType[*kerr.Error](err); ok {
		return ke.Message
	}
	return err.Error()
}
