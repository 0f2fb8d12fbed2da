// Package compat is Samsa's client compatibility suite (issue 6).
//
// It is its own Go module so that the client libraries it drives (sarama,
// kafka-go, confluent-kafka-go with its bundled librdkafka) never become
// dependencies of the broker module.
//
// TestMatrix builds the samsa binary, starts it as a separate process on a
// free 127.0.0.1 port with a fresh data directory, and drives it with real
// clients, one row each: franz-go, sarama, kafka-go and confluent-kafka-go in
// process; kcat through exec; confluent-kafka and kafka-python through the
// scripts in python/ (run with /usr/bin/python3); kafkajs through the script in
// js/. Every scenario asserts on results: records read back byte for byte
// (keys, values, headers, timestamps, offsets, batch codec), group offsets
// resumed after a restart, committed versus aborted transactions, configs
// altered and described again.
//
// Each cell ends as pass, FAIL, n/a (the client cannot express the scenario;
// the reason is written down) or "broker: not yet" (the broker does not
// advertise the APIs the scenario needs in ApiVersions; as soon as it does, the
// cell runs for real). Any FAIL fails the test. The matrix is written to
// MATRIX.md when the full matrix ran against samsa:
//
//	cd compat && go test -count=1 ./...
//
// COMPAT_TARGET=kfake runs the same matrix against franz-go's in-memory kfake
// broker (compat/cmd/kfakebroker), which checks the suite itself; its matrix
// goes to out/MATRIX.kfake.md.
package compat
