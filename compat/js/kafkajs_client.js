// kafkajs for Samsa's client compatibility suite (compat/js_test.go).
//
// Run as `node kafkajs_client.js OP` with the request as JSON on stdin; the
// result is JSON on stdout, a failure a message on stderr and exit status 1.
// Records travel as JSON objects with base64 keys, values and header values;
// a null key is JSON null. kafkajs speaks gzip itself; snappy and lz4 come
// from the codec packages kafkajs-snappy and kafkajs-lz4, zstd from the zstd
// library zstd-napi (the kafkajs zstd plugins on npm do not work here:
// @kafkajs/zstd fails to build with current Node headers, and the CommonJS
// build of @sensejs/kafkajs-zstd-support throws on load).
'use strict'

const {
  Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel,
} = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('kafkajs-lz4')
const zstd = require('zstd-napi')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
// A kafkajs codec is a factory of { compress(encoder), decompress(buffer) }.
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress (encoder) { return new zstd.Compressor().compress(encoder.buffer) },
  async decompress (buffer) { return new zstd.Decompressor().decompress(buffer) },
})

const codecs = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
}

// kafkajs logs to stdout by default; stdout carries the result.
const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`kafkajs ${level} ${namespace}: ${log.message} ${JSON.stringify(log)}\n`)
}

const b64 = (buf) => (buf === null || buf === undefined ? null : Buffer.from(buf).toString('base64'))
const unb64 = (s) => (s === null || s === undefined ? null : Buffer.from(s, 'base64'))

function client (req) {
  return new Kafka({
    clientId: 'samsa-compat',
    brokers: [req.bootstrap],
    logLevel: logLevel.WARN,
    logCreator,
    retry: { retries: 5 },
  })
}

// kafkajs takes headers as an object: repeated keys become an array, and
// keys keep their first position (so interleaved repeats cannot be sent).
function headersIn (list) {
  const out = {}
  for (const h of list || []) {
    const v = unb64(h.value)
    if (!(h.key in out)) out[h.key] = v
    else if (Array.isArray(out[h.key])) out[h.key].push(v)
    else out[h.key] = [out[h.key], v]
  }
  return out
}

function headersOut (obj) {
  const out = []
  for (const [k, v] of Object.entries(obj || {})) {
    for (const x of Array.isArray(v) ? v : [v]) out.push({ key: k, value: b64(x) })
  }
  return out
}

function messagesIn (records, partition) {
  return (records || []).map((r) => {
    const m = { key: unb64(r.key), value: unb64(r.value), headers: headersIn(r.headers), partition }
    if (r.timestamp) m.timestamp = String(r.timestamp)
    return m
  })
}

function recordOut (partition, m) {
  return {
    key: b64(m.key),
    value: b64(m.value),
    headers: headersOut(m.headers),
    timestamp: Number(m.timestamp),
    partition,
    offset: Number(m.offset),
  }
}

async function withAdmin (req, fn) {
  const admin = client(req).admin()
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.disconnect()
  }
}

const ops = {
  async create_topic (req) {
    await withAdmin(req, async (admin) => {
      const created = await admin.createTopics({
        topics: [{ topic: req.topic, numPartitions: req.partitions, replicationFactor: 1 }],
        waitForLeaders: true,
      })
      if (!created) throw new Error(`topic ${req.topic} already existed`)
    })
    return {}
  },

  async topic_partitions (req) {
    return withAdmin(req, async (admin) => {
      const md = await admin.fetchTopicMetadata({ topics: [req.topic] })
      const t = md.topics.find((x) => x.name === req.topic)
      if (!t) throw new Error('topic not in metadata')
      return { partitions: t.partitions.length }
    })
  },

  async produce (req) {
    const producer = client(req).producer({
      idempotent: !!req.idempotent,
      maxInFlightRequests: req.idempotent ? 1 : undefined,
      allowAutoTopicCreation: false,
    })
    await producer.connect()
    try {
      await producer.send({
        topic: req.topic,
        acks: -1,
        compression: codecs[req.codec],
        messages: messagesIn(req.records, req.partition),
      })
    } finally {
      await producer.disconnect()
    }
    return { delivered: req.records.length }
  },

  // kafkajs consumers always belong to a group: this one gets a group of
  // its own, commits nothing, and seeks to the requested offset.
  async consume (req, deadline) {
    const consumer = client(req).consumer({
      groupId: `compat.kafkajs.assign.${process.pid}.${Date.now()}`,
      readUncommitted: !req.read_committed,
    })
    return consumeUntil(consumer, req, deadline, async () => {
      consumer.seek({ topic: req.topic, partition: req.partition, offset: String(req.offset) })
    }, (partition) => partition === req.partition)
  },

  async group_consume (req, deadline) {
    const consumer = client(req).consumer({ groupId: req.group })
    return consumeUntil(consumer, req, deadline, null, () => true, async (records) => {
      const next = {}
      for (const r of records) next[r.partition] = Math.max(next[r.partition] ?? 0, r.offset + 1)
      await consumer.commitOffsets(Object.entries(next).map(([p, o]) => (
        { topic: req.topic, partition: Number(p), offset: String(o) })))
    })
  },

  async txn_produce (req) {
    const producer = client(req).producer({
      transactionalId: req.transactional_id,
      idempotent: true,
      maxInFlightRequests: 1,
    })
    await producer.connect()
    try {
      for (const [records, commit] of [[req.aborted, false], [req.committed, true]]) {
        const txn = await producer.transaction()
        try {
          await txn.send({ topic: req.topic, acks: -1, messages: messagesIn(records, req.partition) })
        } catch (e) {
          await txn.abort()
          throw e
        }
        if (commit) await txn.commit()
        else await txn.abort()
      }
    } finally {
      await producer.disconnect()
    }
    return {}
  },

  async describe_config (req) {
    return withAdmin(req, async (admin) => {
      const resp = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: req.topic, configNames: [req.key] }],
      })
      for (const res of resp.resources) {
        if (res.errorCode) throw new Error(`describe configs: error code ${res.errorCode}: ${res.errorMessage}`)
        for (const e of res.configEntries) {
          if (e.configName === req.key) return { value: e.configValue }
        }
      }
      return {}
    })
  },

  async alter_config (req) {
    await withAdmin(req, async (admin) => {
      const resp = await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: req.topic, configEntries: [{ name: req.key, value: req.value }] }],
      })
      for (const res of resp.resources) {
        if (res.errorCode) throw new Error(`alter configs: error code ${res.errorCode}: ${res.errorMessage}`)
      }
    })
    return {}
  },
}

// consumeUntil runs consumer on req.topic until it has req.count records of
// the partitions accepted by want, then runs finish (say, a commit) and
// leaves the group.
async function consumeUntil (consumer, req, deadline, afterRun, want, finish) {
  const records = []
  let done
  const finished = new Promise((resolve) => { done = resolve })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic: req.topic, fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (!want(partition) || records.length >= req.count) return
        records.push(recordOut(partition, message))
        if (records.length === req.count) done()
      },
    })
    if (afterRun) await afterRun()
    await Promise.race([finished, deadline.then(() => {
      throw new Error(`got ${records.length} of ${req.count} records before the deadline`)
    })])
    if (finish) await finish(records)
    await consumer.stop()
  } finally {
    await consumer.disconnect()
  }
  return { records }
}

async function main () {
  const op = process.argv[2]
  if (op === 'version') {
    return { version: require('kafkajs/package.json').version }
  }
  const fn = ops[op]
  if (!fn) throw new Error(`unknown operation ${op}`)
  const input = require('fs').readFileSync(0, 'utf8')
  const req = JSON.parse(input)
  let timer
  const deadline = new Promise((resolve) => { timer = setTimeout(resolve, (req.timeout_s || 30) * 1000) })
  try {
    return await fn(req, deadline)
  } finally {
    clearTimeout(timer)
  }
}

main().then((result) => {
  process.stdout.write(JSON.stringify(result))
  process.exit(0)
}, (err) => {
  process.stderr.write(`${process.argv[2]}: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
