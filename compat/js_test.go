package compat

import "github.com/twmb/franz-go/pkg/kmsg"

// kafkajs (npm; snappy and lz4 from the codec packages kafkajs-snappy and
// kafkajs-lz4, zstd from zstd-napi), through compat/js/kafkajs_client.js.
// `npm ci` in compat/js installs them (test.sh does).
func kafkajsClient() *client {
	return &client{
		name:   "kafkajs",
		driver: scriptDriver{dir: "js", argv: []string{"node", "kafkajs_client.js"}},
		profile: profile{
			headerOrder: "header order across different keys is first-occurrence order (kafkajs takes headers as an object; repeated keys become an array)",
		},
		na: map[string]string{},
		apis: map[string][]int16{
			// kafkajs consumers always join a group, even to read a
			// partition from an offset.
			"consume":      groupAPIs,
			"txn":          groupAPIs,
			"config-alter": k(kmsg.AlterConfigs), // admin.alterConfigs (legacy)
		},
	}
}
