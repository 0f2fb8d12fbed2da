package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	var (
		configFile string
		overrides  []string
		logLevel   string
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a broker (like kafka-server-start.sh)",
		Long: `Run a broker. With no flags it listens on 127.0.0.1:9092 and keeps its data in
./samsa-data. --config reads a Kafka-style properties file; --override key=value
(repeatable) sets one property on top of it, with Kafka's property names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			cfg, ignored, err := config.Load(configFile, overrides)
			if err != nil {
				return err
			}
			for _, k := range ignored {
				logger.Warn("ignoring unknown or unsupported configuration", "key", k)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			return serve(ctx, cfg, logger, nil)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "Kafka-style properties file")
	cmd.Flags().StringArrayVar(&overrides, "override", nil, "key=value property override (repeatable)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) to this file until shutdown")
	return cmd
}

// serve runs a broker until ctx ends, then shuts down gracefully: stop
// accepting, finish in-flight requests, flush, write the clean-shutdown
// marker. ready, if non-nil, receives the bound address.
func serve(ctx context.Context, cfg config.Broker, logger *slog.Logger, ready chan<- string) error {
	ln, err := net.Listen("tcp", cfg.Listeners[0].Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listeners[0].Addr(), err)
	}
	if cfg.AdvertisedListeners[0].Port == 0 {
		// listeners=...:0 picks a free port; advertise the one we got.
		cfg.AdvertisedListeners[0].Port = int32(ln.Addr().(*net.TCPAddr).Port)
	}
	broker, err := api.Open(cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	srv := server.New(api.ServerConfig(cfg), broker, logger)
	srv.Serve(ln)
	logger.Info("samsa started", "listener", ln.Addr().String(),
		"advertised", cfg.AdvertisedListeners[0].Addr(), "log.dirs", strings.Join(cfg.LogDirs, ","), "node.id", cfg.NodeID)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("connections did not finish in time; closed them", "err", err)
	}
	if err := broker.Close(); err != nil {
		return fmt.Errorf("closing the log: %w", err)
	}
	logger.Info("shutdown complete")
	return nil
}
