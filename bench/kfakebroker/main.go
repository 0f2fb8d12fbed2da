// Command kfakebroker runs franz-go's in-memory fake Kafka broker (kfake) on
// 127.0.0.1 as a separate process, as the comparison point of the benchmark
// suite (bench/run.sh). It stops on SIGINT or SIGTERM.
//
//	go build -o bench/bin/kfakebroker ./bench/kfakebroker
//	bench/bin/kfakebroker -port 9092
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "port to listen on at 127.0.0.1")
	partitions := flag.Int("default-partitions", 8, "partitions of topics created without a count")
	blackhole := flag.Bool("blackhole", false, "acknowledge produce requests without storing the records")
	flag.Parse()

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.DefaultNumPartitions(*partitions),
	}
	if *blackhole {
		opts = append(opts, kfake.BlackholeProduce())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "kfakebroker: listening on", c.ListenAddrs())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
}
