package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// kcat (Debian package kcat, librdkafka), driven through exec. Producing
// reads stdin split at \x1e into records and at \x1f into key and value;
// consuming prints each record in a length-prefixed format that is parsed
// back exactly (kcatFormat).
func kcatClient() *client {
	return &client{
		name:   "kcat",
		driver: kcatDriver{},
		profile: profile{
			noTimestamps: "kcat has no option to set a record's timestamp",
			plainHeaders: "kcat -H adds the same headers to every record",
			avoidBytes:   []byte{kcatRecDelim, kcatKeyDelim},
		},
		versions: librdkafka202Versions(),
		na: map[string]string{
			"admin":           "kcat has no command to create topics",
			"config-describe": "kcat has no command to describe configs",
			"config-alter":    "kcat has no command to alter configs",
		},
	}
}

const (
	kcatRecDelim = 0x1e
	kcatKeyDelim = 0x1f
	// partition, offset, timestamp, key length (-1: null), value length,
	// key bytes, value bytes, then the headers as k=v,k=v.
	kcatFormat = `%p,%o,%T,%K,%S,%k%s,%h\n`
)

type kcatDriver struct{}

func kcatRun(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	return runCmd(ctx, "", stdin, "kcat", append([]string{"-q"}, args...)...)
}

var kcatVersionRE = regexp.MustCompile(`Version (\S+) .*librdkafka (\S+)`)

func (kcatDriver) version(ctx context.Context) (string, error) {
	out, err := runCmd(ctx, "", nil, "kcat", "-V")
	if err != nil {
		return "", err
	}
	m := kcatVersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("unexpected kcat -V output %q", out)
	}
	return fmt.Sprintf("%s (librdkafka %s)", m[1], m[2]), nil
}

func (kcatDriver) createTopic(context.Context, adminReq) error {
	return errors.New("kcat cannot create topics")
}

func (kcatDriver) topicPartitions(context.Context, adminReq) (int32, error) {
	return 0, errors.New("kcat cannot create topics")
}

// kcatProduceArgs builds the producer command line for records that all
// carry the same headers (checked by the caller).
func kcatProduceArgs(bootstrap, topic string, partition int32, codec string, hs []header) []string {
	args := []string{"-b", bootstrap, "-P", "-t", topic, "-p", strconv.Itoa(int(partition)),
		"-K", `\x1f`, "-D", `\x1e`,
		"-X", "compression.codec=" + codec, "-X", "acks=all"}
	for _, h := range hs {
		args = append(args, "-H", h.Key+"="+string(h.Value))
	}
	return args
}

func kcatInput(rs []record) ([]byte, error) {
	var in bytes.Buffer
	for i, r := range rs {
		if r.Timestamp != 0 {
			return nil, errors.New("kcat cannot set timestamps")
		}
		if i > 0 && !sameHeaders(r.Headers, rs[0].Headers) {
			return nil, errors.New("kcat sends the same headers with every record")
		}
		if bytes.ContainsAny(r.Key, "\x1e\x1f") || bytes.ContainsAny(r.Value, "\x1e\x1f") {
			return nil, errors.New("record contains kcat's delimiters")
		}
		if r.Key != nil {
			if len(r.Key) == 0 {
				return nil, errors.New("kcat cannot send an empty (non-null) key")
			}
			in.Write(r.Key)
			in.WriteByte(kcatKeyDelim)
		}
		in.Write(r.Value)
		in.WriteByte(kcatRecDelim)
	}
	return in.Bytes(), nil
}

func sameHeaders(a, b []header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func (kcatDriver) produce(ctx context.Context, r produceReq) error {
	if len(r.Records) == 0 {
		return nil
	}
	in, err := kcatInput(r.Records)
	if err != nil {
		return err
	}
	args := kcatProduceArgs(r.Bootstrap, r.Topic, r.Partition, r.Codec, r.Records[0].Headers)
	if r.Idempotent {
		args = append(args, "-X", "enable.idempotence=true")
	}
	_, err = kcatRun(ctx, in, args...)
	return err
}

func (kcatDriver) consume(ctx context.Context, r consumeReq) ([]record, error) {
	args := []string{"-b", r.Bootstrap, "-C", "-t", r.Topic, "-p", strconv.Itoa(int(r.Partition)),
		"-o", strconv.FormatInt(r.Offset, 10), "-c", strconv.Itoa(r.Count), "-e", "-f", kcatFormat}
	if r.ReadCommitted {
		args = append(args, "-X", "isolation.level=read_committed")
	}
	out, err := kcatRun(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	return parseKcat(out)
}

func (kcatDriver) groupConsume(ctx context.Context, r groupReq) ([]record, error) {
	// -G: the balanced consumer; librdkafka commits the consumed offsets
	// (auto commit) when kcat closes the consumer after -c records.
	out, err := kcatRun(ctx, nil, "-b", r.Bootstrap, "-G", r.Group, "-c", strconv.Itoa(r.Count),
		"-X", "auto.offset.reset=earliest", "-f", kcatFormat, r.Topic)
	if err != nil {
		return nil, err
	}
	return parseKcat(out)
}

// txnProduce: kcat commits its one transaction when stdin ends and aborts it
// when interrupted. The aborted transaction is a kcat that is interrupted
// once its records are in the log (read_uncommitted); the committed one a
// kcat whose stdin ends. kcat reads stdin in large blocks (fread), so the
// records to abort are followed by filler without a delimiter: it makes kcat
// read and send them, and, never completed, is itself never sent.
func (kcatDriver) txnProduce(ctx context.Context, r txnReq) error {
	in, err := kcatInput(r.Aborted)
	if err != nil {
		return err
	}
	args := append(kcatProduceArgs(r.Bootstrap, r.Topic, r.Partition, "none", r.Aborted[0].Headers),
		"-X", "transactional.id="+r.TransactionalID)
	cmd := exec.CommandContext(ctx, "kcat", append([]string{"-q"}, args...)...)
	configureKill(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	in = append(in, bytes.Repeat([]byte{'z'}, 256<<10)...)
	if _, err := stdin.Write(in); err != nil {
		return fmt.Errorf("write to kcat: %w", err)
	}
	// Wait until the records are in the log, then interrupt kcat.
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, _, err = franzRead(rctx, r.Bootstrap, r.Topic, r.Partition, 0, len(r.Aborted), false)
	cancel()
	if err != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		return fmt.Errorf("records of the transaction to abort never reached the log: %w; kcat stderr: %s", err, tail(stderr.String()))
	}
	// The interrupt marks kcat as stopping; closing stdin ends its
	// blocked read, and it then aborts the transaction and exits.
	_ = cmd.Process.Signal(syscall.SIGINT)
	stdin.Close()
	select {
	case <-exited:
		// What counts is the abort marker, checked by the scenario.
	case <-ctx.Done():
		return fmt.Errorf("kcat did not exit after SIGINT: %v; stderr: %s", ctx.Err(), tail(stderr.String()))
	}

	in, err = kcatInput(r.Committed)
	if err != nil {
		return err
	}
	args = append(kcatProduceArgs(r.Bootstrap, r.Topic, r.Partition, "none", r.Committed[0].Headers),
		"-X", "transactional.id="+r.TransactionalID)
	_, err = kcatRun(ctx, in, args...)
	return err
}

func (kcatDriver) describeConfig(context.Context, configReq) (string, error) {
	return "", errors.New("kcat cannot describe configs")
}

func (kcatDriver) alterConfig(context.Context, configReq) error {
	return errors.New("kcat cannot alter configs")
}

// parseKcat parses records printed with kcatFormat.
func parseKcat(out []byte) ([]record, error) {
	var rs []record
	for len(out) > 0 {
		var nums [5]int64
		for i := range nums {
			j := bytes.IndexByte(out, ',')
			if j < 0 {
				return rs, fmt.Errorf("kcat output: truncated record header after %d records: %q", len(rs), clip(out))
			}
			n, err := strconv.ParseInt(string(out[:j]), 10, 64)
			if err != nil {
				return rs, fmt.Errorf("kcat output: bad number %q after %d records", out[:j], len(rs))
			}
			nums[i] = n
			out = out[j+1:]
		}
		r := record{Partition: int32(nums[0]), Offset: nums[1], Timestamp: nums[2]}
		klen, vlen := nums[3], nums[4]
		if klen >= 0 {
			if int64(len(out)) < klen {
				return rs, errors.New("kcat output: truncated key")
			}
			r.Key, out = append([]byte{}, out[:klen]...), out[klen:]
		}
		if vlen >= 0 {
			if int64(len(out)) < vlen {
				return rs, errors.New("kcat output: truncated value")
			}
			r.Value, out = append([]byte{}, out[:vlen]...), out[vlen:]
		}
		if len(out) == 0 || out[0] != ',' {
			return rs, fmt.Errorf("kcat output: missing header separator at record %d", len(rs))
		}
		out = out[1:]
		j := bytes.IndexByte(out, '\n')
		if j < 0 {
			return rs, errors.New("kcat output: missing end of record")
		}
		if hs := string(out[:j]); hs != "" {
			for _, kv := range strings.Split(hs, ",") {
				key, val, ok := strings.Cut(kv, "=")
				if !ok {
					return rs, fmt.Errorf("kcat output: bad header %q", kv)
				}
				r.Headers = append(r.Headers, header{key, []byte(val)})
			}
		}
		out = out[j+1:]
		rs = append(rs, r)
	}
	return rs, nil
}

func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
