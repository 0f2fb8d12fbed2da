// Command samsa is a Kafka-compatible event-streaming broker and its tools in
// one binary: `samsa serve` runs a broker; the other subcommands talk to any
// Kafka broker over the wire protocol.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "samsa:", err)
		os.Exit(1)
	}
}

// newRootCmd is the samsa command with every subcommand.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "samsa",
		Short:         "Kafka-compatible event streaming in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(),
		newTopicsCmd(),
		newGroupsCmd(),
		newProduceCmd(),
		newConsumeCmd(),
		newBenchCmd(),
		newConfigsCmd(),
		newLogDirsCmd(),
	)
	return root
}
