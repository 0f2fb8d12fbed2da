// Command kfakebroker runs franz-go's in-memory fake Kafka cluster (kfake) as
// a single broker on 127.0.0.1:PORT. The compatibility suite uses it as a
// stand-in target (COMPAT_TARGET=kfake) to develop and check the suite itself
// independently of the samsa broker. It runs until SIGINT/SIGTERM.
//
// kfake, like Kafka 4.0 (KIP-896), advertises Produce from v3 and Fetch from
// v4. librdkafka before 2.8 (Debian's 2.0.2, under kcat and
// python3-confluent-kafka) only compresses with gzip, snappy or lz4 when the
// broker's Produce range includes v0, and otherwise silently sends
// uncompressed batches (librdkafka issue 4956). So that the stand-in behaves
// like the Kafka 3.x brokers those clients were built for, kfakebroker
// advertises Produce and Fetch from v0. No client here sends such old
// versions: they all pick the highest version both sides support.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	port := flag.Int("port", 0, "TCP port to listen on at 127.0.0.1 (required)")
	flag.Parse()
	if *port <= 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "kfakebroker: -port must be in 1..65535")
		os.Exit(2)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.ClusterID("compat-kfake"),
		// Clients that produce before creating topics (kcat, kafka-go's
		// writer) rely on auto-creation, as with a default Kafka broker.
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
	if err := lowerMinVersions(c, map[int16]int16{kmsg.Produce.Int16(): 0, kmsg.Fetch.Int16(): 0}); err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
}

// lowerMinVersions answers every later ApiVersions request (v0 to v4) with
// kfake's own answer except for the minimum versions in mins.
func lowerMinVersions(c *kfake.Cluster, mins map[int16]int16) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	orig, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("read kfake's ApiVersions: %w", err)
	}
	keys := make([]kmsg.ApiVersionsResponseApiKey, len(orig.ApiKeys))
	for i, key := range orig.ApiKeys {
		if m, ok := mins[key.ApiKey]; ok && m < key.MinVersion {
			key.MinVersion = m
		}
		keys[i] = key
	}
	c.ControlKey(kmsg.ApiVersions.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ApiVersionsRequest)
		if req.Version > 4 {
			return nil, nil, false // kfake handles v5's cluster checks
		}
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = append([]kmsg.ApiVersionsResponseApiKey(nil), keys...)
		resp.SupportedFeatures = orig.SupportedFeatures
		resp.FinalizedFeatures = orig.FinalizedFeatures
		resp.FinalizedFeaturesEpoch = orig.FinalizedFeaturesEpoch
		return resp, nil, true
	})
	return nil
}
