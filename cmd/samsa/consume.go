package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newConsumeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "consume",
		Short: "not implemented yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("consume: not implemented yet")
		},
	}
}
