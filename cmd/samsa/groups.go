package main

// `samsa groups`: consumer group administration in the spirit of
// kafka-consumer-groups.sh. It lists groups, shows their members, committed
// offsets and lag, deletes groups, and resets or deletes committed offsets.
// Everything goes over the Kafka wire protocol (via kadm), so it works
// against any broker, not only samsa.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newGroupsCmd is `samsa groups`.
func newGroupsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List, describe and delete consumer groups; reset or delete their committed offsets",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(
		newGroupsListCmd(cf),
		newGroupsDescribeCmd(cf),
		newGroupsDeleteCmd(cf),
		newGroupsResetOffsetsCmd(cf),
		newGroupsDeleteOffsetsCmd(cf),
	)
	return cmd
}

// groupStates are the group states a broker reports (classic groups and
// KIP-848 consumer groups), by lower-case name, for --state filters.
var groupStates = map[string]string{
	"empty":               "Empty",
	"stable":              "Stable",
	"preparingrebalance":  "PreparingRebalance",
	"completingrebalance": "CompletingRebalance",
	"dead":                "Dead",
	"assigning":           "Assigning",
	"reconciling":         "Reconciling",
}

// parseGroupStates turns --state values (case-insensitive, comma-separated or
// repeated) into the names brokers use.
func parseGroupStates(values []string) ([]string, error) {
	var states []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			name, ok := groupStates[strings.ToLower(s)]
			if !ok {
				valid := make([]string, 0, len(groupStates))
				for _, n := range groupStates {
					valid = append(valid, n)
				}
				slices.Sort(valid)
				return nil, fmt.Errorf("--state %q: unknown group state (valid: %s)", s, strings.Join(valid, ", "))
			}
			if !slices.Contains(states, name) {
				states = append(states, name)
			}
		}
	}
	return states, nil
}

func newGroupsListCmd(cf *clientFlags) *cobra.Command {
	var stateFilter []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups with their state and protocol type",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			states, err := parseGroupStates(stateFilter)
			if err != nil {
				return err
			}
			ctx, cancel := clientCommandContext(cmd)
			defer cancel()
			adm, err := newAdminClient(ctx, cf)
			if err != nil {
				return err
			}
			defer adm.Close()

			groups, err := adm.ListGroups(ctx, states...)
			if err != nil {
				return fmt.Errorf("list groups: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE")
			for _, g := range groups.Sorted() {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Group, orDash(g.State), orDash(g.ProtocolType))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringSliceVar(&stateFilter, "state", nil,
		"only groups in these states (comma-separated or repeated), e.g. Stable,Empty")
	return cmd
}

// groupView selects the tables `groups describe` prints.
type groupView struct {
	state, members, offsets bool
}

func newGroupsDescribeCmd(cf *clientFlags) *cobra.Command {
	var view groupView
	cmd := &cobra.Command{
		Use:   "describe [GROUP...]",
		Short: "Describe groups: state, members and their assignments, committed offsets and lag",
		Long: "Describe the named groups, or every group when none is named.\n\n" +
			"By default three tables are printed: the group state (coordinator, assignment\n" +
			"strategy, member count), the members with their assigned partitions, and per\n" +
			"partition the committed offset (CURRENT-OFFSET), the log end offset and the lag\n" +
			"with the member that owns the partition (\"-\" when no member owns it).\n" +
			"--state, --members and --offsets print only the chosen tables.",
		RunE: func(cmd *cobra.Command, names []string) error {
			if !view.state && !view.members && !view.offsets {
				view = groupView{state: true, members: true, offsets: true}
			}
			ctx, cancel := clientCommandContext(cmd)
			defer cancel()
			adm, err := newAdminClient(ctx, cf)
			if err != nil {
				return err
			}
			defer adm.Close()
			return describeGroups(ctx, adm, cmd.OutOrStdout(), names, view)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&view.state, "state", false, "print the state table")
	fs.BoolVar(&view.members, "members", false, "print the members table")
	fs.BoolVar(&view.offsets, "offsets", false, "print the per-partition offsets and lag table")
	return cmd
}

// describedGroup is what describe shows of one group.
type describedGroup struct {
	kadm.DescribedGroup
	committed kadm.OffsetResponses
}

func describeGroups(ctx context.Context, adm *kadm.Client, out io.Writer, names []string, view groupView) error {
	named := len(names) > 0
	if !named {
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			return fmt.Errorf("list groups: %w", err)
		}
		names = listed.Groups()
		if len(names) == 0 {
			fmt.Fprintln(out, "No groups.")
			return nil
		}
	}
	names = uniqueStrings(names)
	described, err := adm.DescribeGroups(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe groups: %w", err)
	}
	fetched := adm.FetchManyOffsets(ctx, names...)

	var errs []error
	var groups []describedGroup
	for _, name := range names {
		d, ok := described[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("describe group %q: broker did not answer for it", name))
			continue
		case d.Err != nil:
			errs = append(errs, brokerError(fmt.Sprintf("describe group %q", name), d.Err, d.ErrMessage))
			continue
		}
		f, ok := fetched[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("fetch offsets of group %q: broker did not answer for it", name))
			continue
		case f.Err != nil:
			errs = append(errs, fmt.Errorf("fetch offsets of group %q: %w", name, f.Err))
			continue
		}
		committed := f.Fetched
		// Before DescribeGroups v6, brokers describe an unknown group as
		// Dead with no members; with no offsets either, it does not exist.
		if named && d.State == "Dead" && len(d.Members) == 0 && len(committedPartitions(committed)) == 0 {
			errs = append(errs, fmt.Errorf("describe group %q: %w", name, kerr.GroupIDNotFound))
			continue
		}
		groups = append(groups, describedGroup{DescribedGroup: d, committed: committed})
	}
	if len(groups) == 0 {
		return errors.Join(errs...)
	}
	slices.SortFunc(groups, func(a, b describedGroup) int { return cmp.Compare(a.Group, b.Group) })

	var ends kadm.ListedOffsets
	if view.offsets {
		var topics []string
		for _, g := range groups {
			topics = append(topics, g.DescribedGroup.AssignedPartitions().Topics()...)
			topics = append(topics, committedPartitions(g.committed).Topics()...)
		}
		if topics = uniqueStrings(topics); len(topics) > 0 {
			if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
				return errors.Join(append(errs, fmt.Errorf("list log end offsets: %w", err))...)
			}
		}
	}

	sep := ""
	if view.state {
		fmt.Fprint(out, sep)
		printGroupStates(out, groups)
		sep = "\n"
	}
	if view.members {
		fmt.Fprint(out, sep)
		printGroupMembers(out, groups)
		sep = "\n"
	}
	if view.offsets {
		fmt.Fprint(out, sep)
		printGroupOffsets(out, groups, ends)
	}
	return errors.Join(errs...)
}

func printGroupStates(out io.Writer, groups []describedGroup) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tCOORDINATOR (ID)\tPROTOCOL-TYPE\tASSIGNMENT-STRATEGY\tSTATE\t#MEMBERS")
	for _, g := range groups {
		c := g.Coordinator
		coordinator := fmt.Sprintf("%s (%d)", net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), c.NodeID)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", g.Group, coordinator, orDash(g.ProtocolType),
			orDash(g.Protocol), orDash(g.State), len(g.Members))
	}
	tw.Flush()
}

func printGroupMembers(out io.Writer, groups []describedGroup) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tCONSUMER-ID\tGROUP-INSTANCE-ID\tHOST\tCLIENT-ID\t#PARTITIONS\tASSIGNMENT")
	for _, g := range groups {
		for _, m := range g.Members {
			instance := "-"
			if m.InstanceID != nil {
				instance = *m.InstanceID
			}
			count, assignment := "-", "-"
			if a, ok := m.Assigned.AsConsumer(); ok {
				n, s := formatAssignment(a.Topics)
				count, assignment = strconv.Itoa(n), s
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Group, m.MemberID, instance,
				orDash(m.ClientHost), orDash(m.ClientID), count, assignment)
		}
	}
	tw.Flush()
}

// formatAssignment counts the partitions of a consumer assignment and prints
// it as "a(0,1), b(2)", sorted.
func formatAssignment(topics []kmsg.ConsumerMemberAssignmentTopic) (int, string) {
	set := make(kadm.TopicsSet)
	for _, t := range topics {
		set.Add(t.Topic, t.Partitions...)
	}
	n := 0
	var parts []string
	for _, t := range set.Sorted() {
		ps := make([]string, len(t.Partitions))
		for i, p := range t.Partitions {
			ps[i] = strconv.Itoa(int(p))
		}
		if len(ps) == 0 {
			continue
		}
		n += len(ps)
		parts = append(parts, fmt.Sprintf("%s(%s)", t.Topic, strings.Join(ps, ",")))
	}
	if len(parts) == 0 {
		return 0, "-"
	}
	return n, strings.Join(parts, ", ")
}

// offsetRow is one line of the offsets table: a partition the group owns or
// has committed, or a member that owns nothing (partition -1).
type offsetRow struct {
	topic     string
	partition int32
	member    *kadm.DescribedGroupMember
}

func printGroupOffsets(out io.Writer, groups []describedGroup, ends kadm.ListedOffsets) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
	for _, g := range groups {
		for _, r := range groupOffsetRows(g) {
			if r.partition < 0 {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t%s\t%s\t%s\n", g.Group, r.member.MemberID,
					orDash(r.member.ClientHost), orDash(r.member.ClientID))
				continue
			}
			current, end, lag := "-", "-", "-"
			committed := int64(-1)
			if o, ok := g.committed.Lookup(r.topic, r.partition); ok && o.Err == nil && o.At >= 0 {
				committed = o.At
				current = strconv.FormatInt(o.At, 10)
			}
			if e, ok := ends.Lookup(r.topic, r.partition); ok && e.Err == nil && e.Offset >= 0 {
				end = strconv.FormatInt(e.Offset, 10)
				if committed >= 0 {
					lag = strconv.FormatInt(e.Offset-committed, 10)
				}
			}
			consumer, host, client := "-", "-", "-"
			if r.member != nil {
				consumer, host, client = r.member.MemberID, orDash(r.member.ClientHost), orDash(r.member.ClientID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Group, r.topic, r.partition,
				current, end, lag, consumer, host, client)
		}
	}
	tw.Flush()
}

// groupOffsetRows lists, sorted by topic and partition, every partition a
// member owns or the group has an offset for, then the members that own no
// partition (as kafka-consumer-groups.sh does).
func groupOffsetRows(g describedGroup) []offsetRow {
	type tp struct {
		topic     string
		partition int32
	}
	owners := map[tp]*kadm.DescribedGroupMember{}
	var idle []offsetRow
	for i := range g.Members {
		m := &g.Members[i]
		owns := false
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					owners[tp{t.Topic, p}] = m
					owns = true
				}
			}
		}
		if !owns {
			idle = append(idle, offsetRow{partition: -1, member: m})
		}
	}
	var rows []offsetRow
	for k, m := range owners {
		rows = append(rows, offsetRow{topic: k.topic, partition: k.partition, member: m})
	}
	for t, ps := range committedPartitions(g.committed) {
		for p := range ps {
			if _, owned := owners[tp{t, p}]; !owned {
				rows = append(rows, offsetRow{topic: t, partition: p})
			}
		}
	}
	slices.SortFunc(rows, func(a, b offsetRow) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	return append(rows, idle...)
}

// committedPartitions is the set of partitions with a committed offset.
func committedPartitions(os kadm.OffsetResponses) kadm.TopicsSet {
	s := make(kadm.TopicsSet)
	os.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			s.Add(o.Topic, o.Partition)
		}
	})
	return s
}

func newGroupsDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete groups that have no members, with all their committed offsets",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			ctx, cancel := clientCommandContext(cmd)
			defer cancel()
			adm, err := newAdminClient(ctx, cf)
			if err != nil {
				return err
			}
			defer adm.Close()

			names = uniqueStrings(names)
			resps, err := adm.DeleteGroups(ctx, names...)
			if err != nil {
				return fmt.Errorf("delete groups: %w", err)
			}
			var errs []error
			for _, name := range names {
				r, ok := resps[name]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("delete group %q: broker did not answer for it", name))
				case r.Err != nil:
					errs = append(errs, brokerError(fmt.Sprintf("delete group %q", name), r.Err, r.ErrMessage))
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "Deleted group %s.\n", name)
				}
			}
			return errors.Join(errs...)
		},
	}
}

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
			ctx, cancel := clientCommandContext(cmd)
			defer cancel()
			adm, err := newAdminClient(ctx, cf)
			if err != nil {
				return err
			}
			defer adm.Close()
			return resetOffsets(ctx, adm, cmd.OutOrStdout(), cmd.ErrOrStderr(), o, mode)
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

// listedOffset is the offset listed for a partition, or why there is none.
func listedOffset(offsets kadm.ListedOffsets, topic string, partition int32) (int64, error) {
	o, ok := offsets.Lookup(topic, partition)
	switch {
	case !ok:
		return 0, errors.New("broker did not answer for it")
	case o.Err != nil:
		return 0, o.Err
	case o.Offset < 0:
		return 0, errors.New("broker returned no offset")
	}
	return o.Offset, nil
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
			ctx, cancel := clientCommandContext(cmd)
			defer cancel()
			adm, err := newAdminClient(ctx, cf)
			if err != nil {
				return err
			}
			defer adm.Close()
			return deleteGroupOffsets(ctx, adm, cmd.OutOrStdout(), group, specs)
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
