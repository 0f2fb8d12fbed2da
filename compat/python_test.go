package compat

import "github.com/twmb/franz-go/pkg/kmsg"

// confluent-kafka for Python (Debian python3-confluent-kafka, on Debian's
// librdkafka), through compat/python/confluent_kafka_client.py.
func pythonConfluentClient() *client {
	return &client{
		name:     "python-confluent-kafka",
		driver:   pythonScript("confluent_kafka_client.py"),
		versions: librdkafka202Versions(),
		na:       map[string]string{},
		apis: map[string][]int16{
			"config-alter": k(kmsg.AlterConfigs), // 1.x has only the legacy alter_configs
		},
	}
}

// kafka-python (Debian python3-kafka), through
// compat/python/kafka_python_client.py.
func kafkaPythonClient() *client {
	return &client{
		name:   "kafka-python",
		driver: pythonScript("kafka_python_client.py"),
		na: map[string]string{
			"idempotent": "kafka-python 2.0 has no idempotent producer (added in 2.1; Debian ships 2.0.2)",
			"txn":        "kafka-python 2.0 has neither a transactional producer nor a read_committed consumer",
		},
		apis: map[string][]int16{
			"config-alter": k(kmsg.AlterConfigs), // KafkaAdminClient.alter_configs (legacy)
		},
	}
}
