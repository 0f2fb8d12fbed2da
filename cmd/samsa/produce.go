package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newProduceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "produce",
		Short: "not implemented yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("produce: not implemented yet")
		},
	}
}
