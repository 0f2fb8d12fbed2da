package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newTopicsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "topics",
		Short: "not implemented yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("topics: not implemented yet")
		},
	}
}
