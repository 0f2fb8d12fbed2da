package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "not implemented yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("bench: not implemented yet")
		},
	}
}
