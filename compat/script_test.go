package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// scriptDriver runs a client written in another language as one process per
// operation: `argv... OP`, the request as JSON on stdin (plus timeout_s, the
// time the script has), the result as JSON on stdout. A script reports
// failure by exiting non-zero with a message on stderr.
type scriptDriver struct {
	dir  string   // working directory
	argv []string // command and script
}

// pythonScript runs compat/python/NAME with Debian's interpreter, where the
// Debian client packages live (the first python3 on PATH may be another one).
// -E and -s keep PYTHON* variables and the user's site-packages out; -B
// writes no __pycache__ into the source tree.
func pythonScript(name string) scriptDriver {
	return scriptDriver{dir: "python", argv: []string{"/usr/bin/python3", "-E", "-s", "-B", name}}
}

func (d scriptDriver) call(ctx context.Context, op string, req, resp any) error {
	in := map[string]any{}
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &in); err != nil {
			return err
		}
	}
	// The script gets a little less time than the process, so that it can
	// report what it was waiting for before it is killed.
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl) - 3*time.Second
	}
	if timeout < time.Second {
		return fmt.Errorf("%s: no time left", op)
	}
	in["timeout_s"] = timeout.Seconds()
	stdin, err := json.Marshal(in)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(d.dir)
	if err != nil {
		return err
	}
	out, err := runCmd(ctx, dir, stdin, d.argv[0], append(d.argv[1:], op)...)
	if err != nil {
		return err
	}
	if resp == nil {
		resp = &struct{}{}
	}
	if err := json.Unmarshal(out, resp); err != nil {
		return fmt.Errorf("%s: bad JSON from %s: %v: %q", op, d.argv[len(d.argv)-1], err, clip(out))
	}
	return nil
}

func (d scriptDriver) version(ctx context.Context) (string, error) {
	var r struct{ Version string }
	if err := d.call(ctx, "version", nil, &r); err != nil {
		return "", err
	}
	if r.Version == "" {
		return "", errors.New("script reported no version")
	}
	return r.Version, nil
}

func (d scriptDriver) createTopic(ctx context.Context, r adminReq) error {
	return d.call(ctx, "create_topic", r, nil)
}

func (d scriptDriver) topicPartitions(ctx context.Context, r adminReq) (int32, error) {
	var resp struct {
		Partitions *int32 `json:"partitions"`
	}
	if err := d.call(ctx, "topic_partitions", r, &resp); err != nil {
		return 0, err
	}
	if resp.Partitions == nil {
		return 0, errors.New("script reported no partition count")
	}
	return *resp.Partitions, nil
}

func (d scriptDriver) produce(ctx context.Context, r produceReq) error {
	var resp struct {
		Delivered int `json:"delivered"`
	}
	if err := d.call(ctx, "produce", r, &resp); err != nil {
		return err
	}
	if resp.Delivered != len(r.Records) {
		return fmt.Errorf("script reports %d of %d records delivered", resp.Delivered, len(r.Records))
	}
	return nil
}

func (d scriptDriver) records(ctx context.Context, op string, req any) ([]record, error) {
	var resp struct {
		Records []record `json:"records"`
	}
	err := d.call(ctx, op, req, &resp)
	return resp.Records, err
}

func (d scriptDriver) consume(ctx context.Context, r consumeReq) ([]record, error) {
	return d.records(ctx, "consume", r)
}

func (d scriptDriver) groupConsume(ctx context.Context, r groupReq) ([]record, error) {
	return d.records(ctx, "group_consume", r)
}

func (d scriptDriver) txnProduce(ctx context.Context, r txnReq) error {
	return d.call(ctx, "txn_produce", r, nil)
}

func (d scriptDriver) describeConfig(ctx context.Context, r configReq) (string, error) {
	var resp struct {
		Value *string `json:"value"`
	}
	if err := d.call(ctx, "describe_config", r, &resp); err != nil {
		return "", err
	}
	if resp.Value == nil {
		return "", fmt.Errorf("%s not described", r.Key)
	}
	return *resp.Value, nil
}

func (d scriptDriver) alterConfig(ctx context.Context, r configReq) error {
	return d.call(ctx, "alter_config", r, nil)
}
