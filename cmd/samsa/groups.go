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
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

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
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {

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
			})
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
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
				return describeGroups(ctx, adm, cmd.OutOrStdout(), names, view)
			})
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
		case errors.Is(d.Err, kerr.GroupIDNotFound):
			// DescribeGroups v6+ (KIP-1043): the group does not exist;
			// before, the same group is described as Dead (below).
			d.Err, d.ErrMessage, d.State = nil, "", "Dead"
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
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {

				names = uniqueStrings(names)
				resps, err := adm.DeleteGroups(ctx, names...)
				if err != nil {
					return fmt.Errorf("delete groups: %w", err)
				}
				return reportEach(cmd.OutOrStdout(), names, resps, "delete group", "Deleted group",
					func(r kadm.DeleteGroupResponse) (string, error) { return r.ErrMessage, r.Err })
			})
		},
	}
}
