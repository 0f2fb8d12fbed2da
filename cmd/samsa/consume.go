package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeOptions are the flags of `samsa consume`.
type consumeOptions struct {
	fromBeginning bool
	offset        int64
	partition     int32
	maxMessages   int64
	follow        bool
	format        string
	printKey      bool
}

// newConsumeCmd is `samsa consume TOPIC`: print a topic's records, in the
// spirit of kafka-console-consumer.sh and kcat -C. It reads partitions
// directly (no consumer group, nothing committed).
func newConsumeCmd() *cobra.Command {
	var o consumeOptions
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print the records of a topic",
		Long: "Prints the records of TOPIC, one per --format. Without --follow it reads up to\n" +
			"the end offsets (high watermarks) seen at start and exits; with --follow it\n" +
			"keeps waiting for new records until interrupted.\n\n" +
			"Format directives: %t topic, %p partition, %o offset, %k key, %s value,\n" +
			"%T timestamp (ms), %h headers (k=v,k=v), %% a percent sign;\n" +
			"escapes: \\n newline, \\t tab, \\r carriage return, \\\\ backslash.",
		Args: cobra.ExactArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runConsume(cmd, cf, &o, args[0])
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.fromBeginning, "from-beginning", false, "start at the log start offset (default: only new records)")
	fs.Int64Var(&o.offset, "offset", 0, "start at this offset; negative N starts N records before the end")
	fs.Int32Var(&o.partition, "partition", -1, "read only this partition (-1: all)")
	fs.Int64Var(&o.maxMessages, "max-messages", 0, "exit after printing this many records (0: no limit)")
	fs.BoolVarP(&o.follow, "follow", "f", false, "keep waiting for new records instead of exiting at the end")
	fs.StringVar(&o.format, "format", `%s\n`, "output template for each record (see above)")
	fs.BoolVar(&o.printKey, "print-key", false, `print key and value separated by a tab (same as --format '%k\t%s\n')`)
	cmd.MarkFlagsMutuallyExclusive("from-beginning", "offset")
	cmd.MarkFlagsMutuallyExclusive("format", "print-key")
	return cmd
}

// consumePartitionPlan says where one partition is read from and, unless
// following, up to where.
type consumePartitionPlan struct {
	partition int32
	from      int64 // first offset to read
	end       int64 // high watermark at start: without --follow, stop here
}

func runConsume(cmd *cobra.Command, cf *clientFlags, o *consumeOptions, topic string) error {
	format := o.format
	if o.printKey {
		format = `%k\t%s\n`
	}
	recFormat, err := parseRecordFormat(format)
	if err != nil {
		return err
	}
	if o.maxMessages < 0 {
		return fmt.Errorf("--max-messages %d: want 0 (no limit) or more", o.maxMessages)
	}
	if o.partition < -1 {
		return fmt.Errorf("--partition %d: want a partition number or -1", o.partition)
	}
	offsetSet := cmd.Flags().Changed("offset")

	ctx, stopSignals := clientCommandContext(cmd)
	defer stopSignals()
	adm, err := newAdminClient(ctx, cf)
	if err != nil {
		return err
	}
	plans, err := planConsume(ctx, adm, cmd.ErrOrStderr(), o, offsetSet, topic)
	adm.Close()
	if err != nil {
		return err
	}

	out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	c := &consumeRun{
		topic:  topic,
		format: recFormat,
		out:    out,
		follow: o.follow,
		limit:  o.maxMessages,
		ends:   make(map[int32]int64),
	}
	offsets := make(map[int32]kgo.Offset)
	for _, p := range plans {
		if o.follow || p.from < p.end {
			offsets[p.partition] = kgo.NewOffset().At(p.from)
			c.ends[p.partition] = p.end
		}
	}
	if len(offsets) > 0 {
		cl, err := newKafkaClient(ctx, cf,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
			// Control records (transaction markers) are not printed, but
			// seeing them tells us a partition has reached its end offset.
			kgo.KeepControlRecords(),
		)
		if err != nil {
			return err
		}
		err = c.run(ctx, cl, cmd.ErrOrStderr())
		cl.Close()
		if err != nil {
			out.Flush()
			return err
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "consumed %s from topic %s\n", clientRecordCount(c.printed), topic)
	return nil
}

// planConsume looks up the topic's partitions and their offsets and decides
// where each partition is read from.
func planConsume(ctx context.Context, adm *kadm.Client, warn io.Writer, o *consumeOptions, offsetSet bool, topic string) ([]consumePartitionPlan, error) {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("look up topic %s: %w", topic, err)
	}
	t, ok := topics[topic]
	switch {
	case !ok:
		return nil, fmt.Errorf("look up topic %s: broker did not answer for it", topic)
	case t.Err != nil:
		return nil, brokerError("look up topic "+topic, t.Err, "")
	}
	var partitions []int32
	for p := range t.Partitions {
		if o.partition < 0 || p == o.partition {
			partitions = append(partitions, p)
		}
	}
	if len(partitions) == 0 {
		return nil, fmt.Errorf("topic %s has no partition %d (it has %d partitions)", topic, o.partition, len(t.Partitions))
	}
	slices.Sort(partitions)

	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets of topic %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of topic %s: %w", topic, err)
	}
	plans := make([]consumePartitionPlan, 0, len(partitions))
	for _, p := range partitions {
		start, err := listedPartitionOffset(starts, topic, p)
		if err != nil {
			return nil, fmt.Errorf("log start offset of %s/%d: %w", topic, p, err)
		}
		end, err := listedPartitionOffset(ends, topic, p)
		if err != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
		}
		from := end
		switch {
		case o.fromBeginning:
			from = start
		case offsetSet && o.offset < 0:
			from = max(end+o.offset, start)
		case offsetSet:
			from = min(max(o.offset, start), end)
			if from != o.offset {
				fmt.Fprintf(warn, "partition %d: offset %d is outside [%d, %d]; starting at %d\n",
					p, o.offset, start, end, from)
			}
		}
		plans = append(plans, consumePartitionPlan{partition: p, from: from, end: end})
	}
	return plans, nil
}

// listedPartitionOffset is the offset listed for a partition, or why there
// is none.
func listedPartitionOffset(offsets kadm.ListedOffsets, topic string, partition int32) (int64, error) {
	o, ok := offsets.Lookup(topic, partition)
	switch {
	case !ok:
		return 0, errors.New("broker did not answer for it")
	case o.Err != nil:
		return 0, o.Err
	}
	return o.Offset, nil
}

// consumeRun is the state of one consume loop.
type consumeRun struct {
	topic   string
	format  recordFormat
	out     *bufio.Writer
	follow  bool
	limit   int64           // 0: no limit
	ends    map[int32]int64 // partitions not yet at their end offset (all, when following)
	printed int64
	buf     []byte
}

// run polls and prints until every partition reached its end offset (unless
// following), the record limit is hit, or ctx is cancelled (an interrupt ends
// the run cleanly).
func (c *consumeRun) run(ctx context.Context, cl *kgo.Client, warn io.Writer) error {
	for len(c.ends) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		for _, fe := range fetches.Errors() {
			var dataLoss *kgo.ErrDataLoss
			if errors.As(fe.Err, &dataLoss) {
				fmt.Fprintf(warn, "warning: %v\n", fe.Err)
				continue
			}
			return fmt.Errorf("consume %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		done := false
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if !done {
				done = c.printPartition(cl, p)
			}
		})
		if err := c.out.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if done {
			return nil
		}
	}
	return nil
}

// printPartition prints the fetched records of one partition that lie below
// its end offset and reports whether the record limit has been reached.
func (c *consumeRun) printPartition(cl *kgo.Client, p kgo.FetchTopicPartition) bool {
	end, reading := c.ends[p.Partition]
	if !reading {
		return false
	}
	for _, r := range p.Records {
		if !c.follow && r.Offset >= end {
			c.finishPartition(cl, p.Partition)
			break
		}
		if !r.Attrs.IsControl() {
			c.buf = c.format.appendRecord(c.buf[:0], r)
			c.out.Write(c.buf) // errors are sticky; checked at Flush
			c.printed++
			if c.limit > 0 && c.printed >= c.limit {
				return true
			}
		}
		if !c.follow && r.Offset+1 >= end {
			c.finishPartition(cl, p.Partition)
			break
		}
	}
	return false
}

// finishPartition stops reading a partition that reached its end offset.
func (c *consumeRun) finishPartition(cl *kgo.Client, partition int32) {
	delete(c.ends, partition)
	cl.PauseFetchPartitions(map[string][]int32{c.topic: {partition}})
}

// recordFormat is a compiled --format template: literal text and record
// fields, in order.
type recordFormat []recordFormatPiece

type recordFormatPiece struct {
	literal string
	field   byte // 0 for a literal, else the directive letter (t, p, o, k, s, T, h)
}

// parseRecordFormat compiles a kcat-style template (%t topic, %p partition,
// %o offset, %k key, %s value, %T timestamp in ms, %h headers, %% percent;
// \n \t \r \\ escapes).
func parseRecordFormat(s string) (recordFormat, error) {
	var f recordFormat
	var lit []byte
	flushLiteral := func() {
		if len(lit) > 0 {
			f = append(f, recordFormatPiece{literal: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '%' && ch != '\\' {
			lit = append(lit, ch)
			continue
		}
		if i+1 == len(s) {
			return nil, fmt.Errorf("--format %q: ends with a lone %q", s, ch)
		}
		i++
		next := s[i]
		if ch == '\\' {
			switch next {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '\\':
				lit = append(lit, '\\')
			default:
				return nil, fmt.Errorf("--format %q: unknown escape \\%c", s, next)
			}
			continue
		}
		switch next {
		case '%':
			lit = append(lit, '%')
		case 't', 'p', 'o', 'k', 's', 'T', 'h':
			flushLiteral()
			f = append(f, recordFormatPiece{field: next})
		default:
			return nil, fmt.Errorf("--format %q: unknown directive %%%c", s, next)
		}
	}
	flushLiteral()
	return f, nil
}

// appendRecord appends r formatted by f to buf. A null key or value prints
// as nothing.
func (f recordFormat) appendRecord(buf []byte, r *kgo.Record) []byte {
	for _, piece := range f {
		switch piece.field {
		case 0:
			buf = append(buf, piece.literal...)
		case 't':
			buf = append(buf, r.Topic...)
		case 'p':
			buf = strconv.AppendInt(buf, int64(r.Partition), 10)
		case 'o':
			buf = strconv.AppendInt(buf, r.Offset, 10)
		case 'k':
			buf = append(buf, r.Key...)
		case 's':
			buf = append(buf, r.Value...)
		case 'T':
			buf = strconv.AppendInt(buf, r.Timestamp.UnixMilli(), 10)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, h.Key...)
				buf = append(buf, '=')
				buf = append(buf, h.Value...)
			}
		}
	}
	return buf
}
