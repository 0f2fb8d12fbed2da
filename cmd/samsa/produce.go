package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceOptions are the flags of `samsa produce`.
type produceOptions struct {
	keySeparator string
	partition    int32
	acks         string
	compression  string
	headers      []string
	linger       time.Duration
}

// newProduceCmd is `samsa produce TOPIC`: one record per line of stdin, in
// the spirit of kafka-console-producer.sh.
func newProduceCmd() *cobra.Command {
	var o produceOptions
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce one record per line of standard input to a topic",
		Long: "Reads standard input and produces one record per line (without the line\n" +
			"terminator) to TOPIC, then waits until every record is acknowledged.\n" +
			"With --key-separator, the text before the first separator is the key and\n" +
			"the rest the value; lines without the separator get a null key.",
		Args: cobra.ExactArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runProduce(cmd, cf, &o, args[0])
	}
	fs := cmd.Flags()
	fs.StringVar(&o.keySeparator, "key-separator", "", "split each line into key and value at the first occurrence of this string")
	fs.Int32Var(&o.partition, "partition", -1, "produce every record to this partition (-1: the client partitioner picks)")
	fs.StringVar(&o.acks, "acks", "all", "acknowledgements to wait for: all, 1 (leader only) or 0 (none)")
	fs.StringVar(&o.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	fs.StringArrayVar(&o.headers, "header", nil, "header key=value added to every record (repeatable)")
	fs.DurationVar(&o.linger, "linger", 10*time.Millisecond, "how long to wait for more records before sending a batch")
	return cmd
}

// kgoOptions translates the flags into producer options for the client.
func (o *produceOptions) kgoOptions(cf *clientFlags) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.ProducerLinger(o.linger),
		kgo.RecordDeliveryTimeout(cf.timeout),
		// Like Kafka's console producer: a broker configured to create
		// topics on first use may do so.
		kgo.AllowAutoTopicCreation(),
	}
	switch o.acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("--acks %q: want all, 1 or 0", o.acks)
	}
	var codec kgo.CompressionCodec
	switch o.compression {
	case "none":
		codec = kgo.NoCompression()
	case "gzip":
		codec = kgo.GzipCompression()
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", o.compression)
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	} else if o.partition != -1 {
		return nil, fmt.Errorf("--partition %d: want a partition number or -1", o.partition)
	}
	return opts, nil
}

// recordHeaders parses the --header flags. Every record shares the result;
// the client only reads it.
func (o *produceOptions) recordHeaders() ([]kgo.RecordHeader, error) {
	var hs []kgo.RecordHeader
	for _, h := range o.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--header %q: want key=value", h)
		}
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return hs, nil
}

// produceTally counts acknowledged and failed records; the client calls
// record promises from its own goroutines.
type produceTally struct {
	mu       sync.Mutex
	produced int64
	failed   int64
	firstErr error
}

func (t *produceTally) promise(_ *kgo.Record, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.produced++
		return
	}
	t.failed++
	if t.firstErr == nil {
		t.firstErr = err
	}
}

func (t *produceTally) failing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed > 0
}

func runProduce(cmd *cobra.Command, cf *clientFlags, o *produceOptions, topic string) error {
	opts, err := o.kgoOptions(cf)
	if err != nil {
		return err
	}
	headers, err := o.recordHeaders()
	if err != nil {
		return err
	}
	ctx, stopSignals := clientCommandContext(cmd)
	defer stopSignals()
	cl, err := newKafkaClient(ctx, cf, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	var tally produceTally
	var sep []byte
	if o.keySeparator != "" {
		sep = []byte(o.keySeparator)
	}
	input := make(chan [][]byte, 4)
	readErr := make(chan error, 1)
	// The reader runs apart so that an interrupt is noticed even while
	// standard input blocks; if it does block, it ends with the process.
	go func() {
		defer close(input)
		readErr <- readProduceLines(cmd.InOrStdin(), input, ctx.Done())
	}()

	sent := int64(0)
	interrupted := false
read:
	for !tally.failing() {
		select {
		case <-ctx.Done():
			interrupted = true
			break read
		case lines, ok := <-input:
			if !ok {
				break read
			}
			for _, line := range lines {
				r := &kgo.Record{Topic: topic, Partition: o.partition, Value: line, Headers: headers}
				if sep != nil {
					if k, v, found := bytes.Cut(line, sep); found {
						r.Key, r.Value = k, v
					}
				}
				// Produce blocks while the client's buffer is full, so a
				// large input streams at the broker's pace.
				cl.Produce(ctx, r, tally.promise)
				sent++
			}
		}
	}
	var inputErr error
	if interrupted {
		// Restore default signal handling: a second interrupt kills us
		// while we deliver what was already read.
		stopSignals()
	} else if !tally.failing() {
		inputErr = <-readErr
	}

	// Deliver what was read even if reading failed or was interrupted.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cf.timeout)
	defer cancel()
	flushErr := cl.Flush(flushCtx)

	tally.mu.Lock()
	defer tally.mu.Unlock()
	fmt.Fprintf(cmd.ErrOrStderr(), "produced %s to topic %s", clientRecordCount(tally.produced), topic)
	if tally.failed > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), ", %d failed", tally.failed)
	}
	fmt.Fprintln(cmd.ErrOrStderr())
	switch {
	case tally.firstErr != nil:
		return fmt.Errorf("produce to topic %s: %d of %d records failed, first error: %w",
			topic, tally.failed, sent, tally.firstErr)
	case flushErr != nil:
		return fmt.Errorf("produce to topic %s: waiting for acknowledgements: %w", topic, flushErr)
	case inputErr != nil:
		return fmt.Errorf("read standard input: %w", inputErr)
	}
	return nil
}

// readProduceLines sends the lines of r, without their "\n" or "\r\n"
// terminators, to out in batches until r ends or stop is closed. A batch
// holds what is already buffered, so interactive input goes out line by line
// while piped input travels in large batches.
func readProduceLines(r io.Reader, out chan<- [][]byte, stop <-chan struct{}) error {
	const maxBatch = 1024
	br := bufio.NewReaderSize(r, 256<<10)
	var batch [][]byte
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case out <- batch:
			batch = nil
			return true
		case <-stop:
			return false
		}
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			batch = append(batch, line)
		}
		if err != nil {
			if !send() || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if (len(batch) >= maxBatch || br.Buffered() == 0) && !send() {
			return nil
		}
	}
}
