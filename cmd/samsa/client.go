package main

// Shared plumbing for the client-side subcommands (topics, produce, consume):
// the connection flags, building franz-go clients from them, and turning
// broker errors into messages a person can act on.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	clientDefaultBootstrap = "127.0.0.1:9092"
	clientBootstrapEnv     = "SAMSA_BOOTSTRAP_SERVER"
	clientDefaultTimeout   = 10 * time.Second
	// clientMaxDialTimeout bounds how long one connection attempt may take,
	// so that an unreachable address fails within a few seconds even when
	// --timeout is generous.
	clientMaxDialTimeout = 5 * time.Second
)

// clientFlags are the connection settings shared by every command that talks
// to a broker.
type clientFlags struct {
	bootstrap string
	timeout   time.Duration
}

// addClientFlags registers --bootstrap-server and --timeout on cmd as
// persistent flags (so subcommands such as `topics create` inherit them).
func addClientFlags(cmd *cobra.Command) *clientFlags {
	cf := &clientFlags{}
	def := clientDefaultBootstrap
	if env := strings.TrimSpace(os.Getenv(clientBootstrapEnv)); env != "" {
		def = env
	}
	fs := cmd.PersistentFlags()
	fs.StringVar(&cf.bootstrap, "bootstrap-server", def,
		"comma-separated host:port list of brokers to connect to (env "+clientBootstrapEnv+")")
	fs.DurationVar(&cf.timeout, "timeout", clientDefaultTimeout,
		"how long to wait for the broker to answer a request")
	return cf
}

// seedBrokers splits the --bootstrap-server value into host:port entries.
func (cf *clientFlags) seedBrokers() ([]string, error) {
	var seeds []string
	for _, s := range strings.Split(cf.bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, errors.New("--bootstrap-server is empty")
	}
	return seeds, nil
}

// newKafkaClient builds a franz-go client for the flags plus extra options and
// checks that a broker answers, so that a wrong address is reported at once
// instead of surfacing later as retries that look like a hang.
func newKafkaClient(ctx context.Context, cf *clientFlags, extra ...kgo.Opt) (*kgo.Client, error) {
	if cf.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %v", cf.timeout)
	}
	seeds, err := cf.seedBrokers()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("samsa-cli"),
		kgo.DialTimeout(min(cf.timeout, clientMaxDialTimeout)),
		kgo.RetryTimeout(cf.timeout),
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("invalid client settings: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if err := cl.Ping(pingCtx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach broker at %s: %w", strings.Join(seeds, ","), err)
	}
	return cl, nil
}

// newAdminClient is newKafkaClient wrapped for admin requests, with the
// admin request timeout taken from --timeout. Closing the admin client
// closes the underlying client.
func newAdminClient(ctx context.Context, cf *clientFlags) (*kadm.Client, error) {
	cl, err := newKafkaClient(ctx, cf)
	if err != nil {
		return nil, err
	}
	return adminOn(cl, cf), nil
}

// adminOn wraps cl for admin requests, with the admin request timeout taken
// from --timeout.
func adminOn(cl *kgo.Client, cf *clientFlags) *kadm.Client {
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(cf.timeout, time.Hour).Milliseconds()))
	return adm
}

// clientCommandContext returns the command's context, cancelled on SIGINT or
// SIGTERM so that long-running commands can stop cleanly.
func clientCommandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// brokerError describes a per-resource error from a broker response: the
// Kafka error name and description (kerr formats them as "NAME: text") plus
// the broker's own message when it adds something.
func brokerError(what string, err error, brokerMessage string) error {
	if brokerMessage != "" && !strings.Contains(err.Error(), brokerMessage) {
		return fmt.Errorf("%s: %w (%s)", what, err, brokerMessage)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// reportEach prints done and the name for each of names the broker
// answered without error, and joins the errors of the others (what says what
// was attempted, e.g. "delete topic").
func reportEach[R any](w io.Writer, names []string, resps map[string]R, what, done string, errOf func(R) (brokerMessage string, err error)) error {
	var errs []error
	for _, name := range names {
		r, ok := resps[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s %q: broker did not answer for it", what, name))
			continue
		}
		if msg, err := errOf(r); err != nil {
			errs = append(errs, brokerError(fmt.Sprintf("%s %q", what, name), err, msg))
			continue
		}
		fmt.Fprintf(w, "%s %s.\n", done, name)
	}
	return errors.Join(errs...)
}

// clientRecordCount says "1 record" or "N records" for summaries.
func clientRecordCount(n int64) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

// runWithAdmin runs fn with the command's context (cancelled on SIGINT or
// SIGTERM) and an admin client for the broker, closed afterwards.
func runWithAdmin(cmd *cobra.Command, cf *clientFlags, fn func(ctx context.Context, adm *kadm.Client) error) error {
	return runWithClients(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
		return fn(ctx, adm)
	})
}

// runWithClients is runWithAdmin that also hands fn the client under the
// admin client, for raw requests kadm does not make (such as DescribeConfigs
// with documentation).
func runWithClients(cmd *cobra.Command, cf *clientFlags, fn func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error) error {
	ctx, cancel := clientCommandContext(cmd)
	defer cancel()
	cl, err := newKafkaClient(ctx, cf)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(ctx, cl, adminOn(cl, cf))
}
