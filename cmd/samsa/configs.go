package main

// `samsa configs`: describe and change topic, broker and group configs, in the
// spirit of kafka-configs.sh, and `samsa logdirs`: what each broker stores
// where. Everything goes over the Kafka wire protocol, so it works against
// any broker, not only samsa.

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
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newConfigsCmd is `samsa configs`.
func newConfigsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "configs",
		Short: "Describe and alter topic, broker and group configs",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(
		newConfigsDescribeCmd(cf),
		newConfigsAlterCmd(cf),
	)
	return cmd
}

// brokerSelf is the value of a bare --broker: the broker that
// --bootstrap-server points at.
const brokerSelf = "self"

// configTarget is the resource named by --topic, --broker or --group.
type configTarget struct {
	topic  string
	broker string // "" when not given, brokerSelf or an ID
	group  string // a consumer group (KIP-848 group configs)
}

func addConfigTargetFlags(cmd *cobra.Command, t *configTarget) {
	fs := cmd.Flags()
	fs.StringVar(&t.topic, "topic", "", "the topic whose configs to use")
	fs.StringVar(&t.broker, "broker", "",
		"the broker whose configs to use, by node `ID` (--broker 1 or --broker=1); "+
			"a bare --broker means the one --bootstrap-server points at")
	fs.Lookup("broker").NoOptDefVal = brokerSelf
	fs.StringVar(&t.group, "group", "", "the consumer group whose configs to use (it need not exist yet)")
}

// resolve checks that exactly one resource is named and folds a positional
// ID into a bare --broker: pflag reads `--broker 1` as a flag without a
// value followed by the argument "1", because the value is optional.
func (t *configTarget) resolve(args []string) error {
	switch {
	case len(args) > 1:
		return fmt.Errorf("unexpected arguments %q", args)
	case len(args) == 1 && t.broker != brokerSelf:
		return fmt.Errorf("unexpected argument %q (name the resource with --topic, --broker or --group)", args[0])
	case len(args) == 1:
		t.broker = args[0]
	}
	named := 0
	for _, v := range []string{t.topic, t.broker, t.group} {
		if v != "" {
			named++
		}
	}
	switch {
	case named == 0:
		return errors.New("name what to configure: --topic NAME, --broker [ID] or --group NAME")
	case named > 1:
		return errors.New("only one of --topic, --broker and --group can be given")
	}
	if t.broker != "" && t.broker != brokerSelf {
		if _, err := parseBrokerID(t.broker); err != nil {
			return err
		}
	}
	return nil
}

func parseBrokerID(s string) (int32, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("--broker %q: want a broker node ID (a number)", s)
	}
	return int32(id), nil
}

// brokerID returns the ID of the broker to configure. For a bare --broker
// that is the broker whose advertised address is one of the bootstrap
// servers, or the only broker of the cluster. (An empty resource name would
// not do: Kafka reads it as the cluster-wide default broker configs.)
func (t *configTarget) brokerID(ctx context.Context, adm *kadm.Client, cf *clientFlags) (int32, error) {
	if t.broker != brokerSelf {
		return parseBrokerID(t.broker)
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return 0, fmt.Errorf("find the broker's node ID: %w", err)
	}
	seeds, err := cf.seedBrokers()
	if err != nil {
		return 0, err
	}
	for _, seed := range seeds {
		for _, b := range md.Brokers {
			if sameAddr(seed, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))) {
				return b.NodeID, nil
			}
		}
	}
	if len(md.Brokers) == 1 {
		return md.Brokers[0].NodeID, nil
	}
	ids := make([]string, len(md.Brokers))
	for i, b := range md.Brokers {
		ids[i] = strconv.Itoa(int(b.NodeID))
	}
	return 0, fmt.Errorf("--bootstrap-server is not the advertised address of one broker; name one with --broker ID (brokers: %s)",
		strings.Join(ids, ", "))
}

// sameAddr compares host:port strings, ignoring case in host names.
func sameAddr(a, b string) bool {
	ah, ap, errA := net.SplitHostPort(a)
	bh, bp, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return strings.EqualFold(a, b)
	}
	return ap == bp && strings.EqualFold(ah, bh)
}

// configsView selects what `configs describe` prints.
type configsView struct {
	all, synonyms, docs bool
}

func newConfigsDescribeCmd(cf *clientFlags) *cobra.Command {
	var (
		target configTarget
		view   configsView
	)
	cmd := &cobra.Command{
		Use:   "describe (--topic NAME | --broker [ID] | --group NAME)",
		Short: "Show the configs of a topic, a broker or a consumer group",
		Long: "Show the configs of a topic, a broker or a consumer group as a table of NAME,\n" +
			"VALUE and SOURCE.\n\n" +
			"Without --all only configs that are set somewhere are shown: on the topic\n" +
			"(DYNAMIC_TOPIC_CONFIG) or group (GROUP_CONFIG), dynamically on the broker,\n" +
			"or in the broker's properties file (STATIC_BROKER_CONFIG); --all adds the\n" +
			"built-in defaults\n" +
			"(DEFAULT_CONFIG). --synonyms adds the values each config falls back to, in\n" +
			"order of precedence; --docs adds the broker's documentation of each config.",
		Example: "  samsa configs describe --topic orders\n" +
			"  samsa configs describe --topic orders --all --synonyms\n" +
			"  samsa configs describe --broker --all\n" +
			"  samsa configs describe --broker 1\n" +
			"  samsa configs describe --group billing --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := target.resolve(args); err != nil {
				return err
			}
			return runWithClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
				rr := kmsg.NewDescribeConfigsRequestResource()
				what := fmt.Sprintf("topic %q", target.topic)
				rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, target.topic
				if target.group != "" {
					what = fmt.Sprintf("group %q", target.group)
					rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, target.group
				}
				if target.broker != "" {
					id, err := target.brokerID(ctx, adm, cf)
					if err != nil {
						return err
					}
					what = fmt.Sprintf("broker %d", id)
					rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(id))
				}
				configs, err := describeConfigs(ctx, cl, rr, view)
				if err != nil {
					return fmt.Errorf("describe configs of %s: %w", what, err)
				}
				return printConfigs(cmd.OutOrStdout(), configs, view)
			})
		},
	}
	addConfigTargetFlags(cmd, &target)
	fs := cmd.Flags()
	fs.BoolVar(&view.all, "all", false, "include configs left at their built-in defaults")
	fs.BoolVar(&view.synonyms, "synonyms", false, "add a SYNONYMS column: the values each config falls back to")
	fs.BoolVar(&view.docs, "docs", false, "add a DOC column: what each config means, as the broker documents it")
	return cmd
}

// describeConfigs asks the broker for one resource's configs. kgo sends
// broker resources to the broker they name.
func describeConfigs(ctx context.Context, cl *kgo.Client, rr kmsg.DescribeConfigsRequestResource, view configsView) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Resources = append(req.Resources, rr)
	req.IncludeSynonyms = view.synonyms
	req.IncludeDocumentation = view.docs
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, res := range resp.Resources {
		if res.ResourceType != rr.ResourceType || res.ResourceName != rr.ResourceName {
			continue
		}
		if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
			return nil, withBrokerMessage(err, deref(res.ErrorMessage))
		}
		return res.Configs, nil
	}
	return nil, errors.New("the broker did not answer for it")
}

// printConfigs prints configs as a table sorted by name.
func printConfigs(out io.Writer, configs []kmsg.DescribeConfigsResponseResourceConfig, view configsView) error {
	configs = slices.Clone(configs)
	slices.SortFunc(configs, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int {
		return cmp.Compare(a.Name, b.Name)
	})
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	header := "NAME\tVALUE\tSOURCE"
	if view.synonyms {
		header += "\tSYNONYMS"
	}
	if view.docs {
		header += "\tDOC"
	}
	fmt.Fprintln(tw, header)
	for _, c := range configs {
		if !view.all && configIsDefault(c) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", c.Name, formatConfigValue(c.Value, c.IsSensitive), formatConfigSource(c))
		if view.synonyms {
			syns := make([]string, len(c.ConfigSynonyms))
			for i, s := range c.ConfigSynonyms {
				syns[i] = fmt.Sprintf("%s:%s=%s", s.Source, s.Name, formatConfigValue(s.Value, c.IsSensitive))
			}
			fmt.Fprintf(tw, "\t%s", orDash(strings.Join(syns, ", ")))
		}
		if view.docs {
			fmt.Fprintf(tw, "\t%s", orDash(strings.Join(strings.Fields(deref(c.Documentation)), " ")))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// configIsDefault tells whether a config is left at its built-in default.
// Brokers answering DescribeConfigs v0 give no source, only IsDefault.
func configIsDefault(c kmsg.DescribeConfigsResponseResourceConfig) bool {
	if c.Source < 0 {
		return c.IsDefault
	}
	return c.Source == kmsg.ConfigSourceDefaultConfig
}

func formatConfigSource(c kmsg.DescribeConfigsResponseResourceConfig) string {
	if c.Source < 0 && c.IsDefault {
		return kmsg.ConfigSourceDefaultConfig.String()
	}
	return c.Source.String()
}

// formatConfigValue prints a config value so that a table cell is never
// empty: sensitive values are hidden, null and "" are spelled out.
func formatConfigValue(v *string, sensitive bool) string {
	switch {
	case sensitive:
		return "(sensitive)"
	case v == nil:
		return "(null)"
	case *v == "":
		return `""`
	}
	return *v
}

// brokerMessageError is a Kafka error code with the broker's own message in
// place of the code's generic description: for configs the message says
// which key and value were refused and why, and the generic text of
// INVALID_REQUEST ("malformed by the client library") would mislead.
type brokerMessageError struct {
	code *kerr.Error
	msg  string
}

func (e *brokerMessageError) Error() string { return e.code.Message + ": " + e.msg }
func (e *brokerMessageError) Unwrap() error { return e.code }

// withBrokerMessage attaches the broker's error message to err when there
// is one.
func withBrokerMessage(err error, msg string) error {
	var code *kerr.Error
	switch {
	case msg == "" || strings.Contains(err.Error(), msg):
		return err
	case errors.As(err, &code):
		return &brokerMessageError{code: code, msg: msg}
	}
	return fmt.Errorf("%w (%s)", err, msg)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// configOps are the incremental changes given to `configs alter`.
type configOps struct {
	set, del, append, subtract []string
	validateOnly               bool
}

func newConfigsAlterCmd(cf *clientFlags) *cobra.Command {
	var (
		target configTarget
		ops    configOps
	)
	cmd := &cobra.Command{
		Use:   "alter (--topic NAME | --broker [ID] | --group NAME) [--set k=v,...] [--delete k,...] [--append k=v] [--subtract k=v]",
		Short: "Change the configs of a topic, a broker or a consumer group (IncrementalAlterConfigs)",
		Long: "Change some configs of a topic, a broker or a consumer group and leave the\n" +
			"others as they are (IncrementalAlterConfigs, KIP-339).\n\n" +
			"--set k=v sets a config on the topic; --delete k removes it, so the topic\n" +
			"falls back to the broker's value; --append and --subtract add items to or\n" +
			"remove items from a list config such as cleanup.policy. Each flag takes\n" +
			"comma-separated entries and can be repeated. A comma-separated piece without\n" +
			"'=' continues the value before it, so cleanup.policy=compact,delete is one\n" +
			"entry; brackets keep a value whole: k=[a=1,b]. All changes are applied\n" +
			"together or not at all. --validate-only asks the broker to check the\n" +
			"changes without making them.",
		Example: "  samsa configs alter --topic orders --set retention.ms=86400000,max.message.bytes=2097152\n" +
			"  samsa configs alter --topic orders --delete retention.ms\n" +
			"  samsa configs alter --topic orders --append cleanup.policy=compact\n" +
			"  samsa configs alter --topic orders --set segment.bytes=1048576 --validate-only\n" +
			"  samsa configs alter --group billing --set consumer.session.timeout.ms=50000",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := target.resolve(args); err != nil {
				return err
			}
			alters, err := ops.alterConfigs()
			if err != nil {
				return err
			}
			return runWithClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
				var (
					what, kind, name string
					resps            kadm.AlterConfigsResponses
					err              error
				)
				switch {
				case target.group != "":
					what, kind, name = fmt.Sprintf("group %q", target.group), "group", target.group
					resps, err = alterGroupConfigs(ctx, cl, target.group, alters, ops.validateOnly)
				case target.topic != "":
					what, kind, name = fmt.Sprintf("topic %q", target.topic), "topic", target.topic
					if ops.validateOnly {
						resps, err = adm.ValidateAlterTopicConfigs(ctx, alters, target.topic)
					} else {
						resps, err = adm.AlterTopicConfigs(ctx, alters, target.topic)
					}
				default:
					var id int32
					if id, err = target.brokerID(ctx, adm, cf); err != nil {
						return err
					}
					what, kind, name = fmt.Sprintf("broker %d", id), "broker", strconv.Itoa(int(id))
					if ops.validateOnly {
						resps, err = adm.ValidateAlterBrokerConfigs(ctx, alters, id)
					} else {
						resps, err = adm.AlterBrokerConfigs(ctx, alters, id)
					}
				}
				if err != nil {
					return fmt.Errorf("alter configs of %s: %w", what, err)
				}
				r, err := resps.On(name, nil)
				switch {
				case err != nil:
					return fmt.Errorf("alter configs of %s: the broker did not answer for it", what)
				case r.Err != nil:
					return fmt.Errorf("alter configs of %s: %w", what, withBrokerMessage(r.Err, r.ErrMessage))
				case ops.validateOnly:
					fmt.Fprintf(cmd.OutOrStdout(), "Validated config changes for %s %s; nothing was changed (--validate-only).\n", kind, name)
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "Completed updating config for %s %s.\n", kind, name)
				}
				return nil
			})
		},
	}
	addConfigTargetFlags(cmd, &target)
	fs := cmd.Flags()
	fs.StringArrayVar(&ops.set, "set", nil, "set configs: k=v[,k=v...] (repeatable)")
	fs.StringArrayVar(&ops.del, "delete", nil, "remove configs, falling back to the broker's value: k[,k...] (repeatable)")
	fs.StringArrayVar(&ops.append, "append", nil, "add items to list configs: k=item[,item...] (repeatable)")
	fs.StringArrayVar(&ops.subtract, "subtract", nil, "remove items from list configs: k=item[,item...] (repeatable)")
	fs.BoolVar(&ops.validateOnly, "validate-only", false, "only check the changes with the broker; change nothing")
	return cmd
}

// alterGroupConfigs sends an IncrementalAlterConfigs for a consumer group's
// configs (kadm has no call for GROUP resources) and answers as kadm does
// for topics and brokers.
func alterGroupConfigs(ctx context.Context, cl *kgo.Client, group string, alters []kadm.AlterConfig, validateOnly bool) (kadm.AlterConfigsResponses, error) {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for _, a := range alters {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = a.Name, kmsg.IncrementalAlterConfigOp(a.Op), a.Value
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	var out kadm.AlterConfigsResponses
	for _, r := range resp.Resources {
		out = append(out, kadm.AlterConfigsResponse{
			Name: r.ResourceName, Err: kerr.ErrorForCode(r.ErrorCode), ErrMessage: deref(r.ErrorMessage),
		})
	}
	return out, nil
}

// alterConfigs turns the flags into kadm's incremental operations,
// refusing a key named twice (brokers refuse such requests too).
func (o configOps) alterConfigs() ([]kadm.AlterConfig, error) {
	var alters []kadm.AlterConfig
	seen := map[string]string{}
	add := func(flag string, op kadm.IncrementalOp, k string, v *string) error {
		if prev, dup := seen[k]; dup {
			return fmt.Errorf("config %s is given twice (%s and %s); make one change per config", k, prev, flag)
		}
		seen[k] = flag
		alters = append(alters, kadm.AlterConfig{Op: op, Name: k, Value: v})
		return nil
	}
	for _, f := range []struct {
		flag   string
		op     kadm.IncrementalOp
		values []string
	}{
		{"--set", kadm.SetConfig, o.set},
		{"--append", kadm.AppendConfig, o.append},
		{"--subtract", kadm.SubtractConfig, o.subtract},
	} {
		for _, s := range f.values {
			pairs, err := parseConfigPairs(s)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", f.flag, s, err)
			}
			for _, p := range pairs {
				if err := add(f.flag, f.op, p[0], &p[1]); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, s := range o.del {
		for _, k := range strings.Split(s, ",") {
			k = strings.TrimSpace(k)
			if k == "" {
				return nil, fmt.Errorf("--delete %q: empty config name", s)
			}
			if err := add("--delete", kadm.DeleteConfig, k, nil); err != nil {
				return nil, err
			}
		}
	}
	if len(alters) == 0 {
		return nil, errors.New("nothing to change: give --set, --delete, --append or --subtract")
	}
	return alters, nil
}

// parseConfigPairs splits "k=v,k=v" into key/value pairs. A piece without
// '=' continues the previous value (so "cleanup.policy=compact,delete" is
// one pair) and a value in brackets is taken whole ("k=[a=1,b]" is k with
// "a=1,b"), as kafka-configs.sh does.
func parseConfigPairs(s string) ([][2]string, error) {
	var pieces []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			if depth == 0 {
				return nil, errors.New("']' without '['")
			}
			depth--
		case ',':
			if depth == 0 {
				pieces = append(pieces, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, errors.New("'[' without ']'")
	}
	pieces = append(pieces, s[start:])

	var pairs [][2]string
	for _, p := range pieces {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.HasPrefix(strings.TrimSpace(p), "[") {
			if len(pairs) == 0 {
				return nil, errors.New("want key=value")
			}
			pairs[len(pairs)-1][1] += "," + p
			continue
		}
		if k = strings.TrimSpace(k); k == "" {
			return nil, errors.New("want key=value, got an empty key")
		}
		pairs = append(pairs, [2]string{k, v})
	}
	for i, p := range pairs {
		if v := p[1]; strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			pairs[i][1] = v[1 : len(v)-1]
		}
	}
	return pairs, nil
}

// newLogDirsCmd is `samsa logdirs`.
func newLogDirsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logdirs",
		Short: "Show the log directories of brokers and the partitions they hold",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(newLogDirsDescribeCmd(cf))
	return cmd
}

func newLogDirsDescribeCmd(cf *clientFlags) *cobra.Command {
	var topics []string
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "List each broker's log directories with the size of every partition in them",
		Long: "List every broker's log directories (DescribeLogDirs) and, per partition\n" +
			"stored there, its size in bytes. A directory without partitions is shown\n" +
			"with dashes. --topic limits the partitions listed to the named topics.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWithAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {

				dirs, err := adm.DescribeAllLogDirs(ctx, nil)
				if err != nil {
					return fmt.Errorf("describe log dirs: %w", err)
				}
				want := map[string]bool{}
				for _, t := range topics {
					for _, name := range strings.Split(t, ",") {
						if name = strings.TrimSpace(name); name != "" {
							want[name] = true
						}
					}
				}
				var errs []error
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BROKER\tDIR\tTOPIC\tPARTITION\tSIZE")
				for _, d := range dirs.Sorted() {
					if d.Err != nil {
						errs = append(errs, fmt.Errorf("log dir %s of broker %d: %w", d.Dir, d.Broker, d.Err))
						fmt.Fprintf(tw, "%d\t%s\t-\t-\t-\n", d.Broker, d.Dir)
						continue
					}
					n := 0
					for _, p := range d.Topics.Sorted() {
						if len(want) > 0 && !want[p.Topic] {
							continue
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\n", d.Broker, d.Dir, p.Topic, p.Partition, p.Size)
						n++
					}
					if n == 0 {
						fmt.Fprintf(tw, "%d\t%s\t-\t-\t-\n", d.Broker, d.Dir)
					}
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().StringSliceVar(&topics, "topic", nil, "only these topics (comma-separated or repeated)")
	return cmd
}
