#!/usr/bin/env node
// kafkajs cases of the compatibility suite.
//
//   node test.js --list | BOOTSTRAP CASE     (protocol: see ../compat_common.py)
//
// Prints exactly one line per run: "ok kafkajs CASE", "skip kafkajs CASE:
// why" or "FAIL kafkajs CASE: why"; kafkajs' own logs go to stderr. The
// records are built and checked as in compat_common.py: keys, binary values
// (every byte value and a compressible tail), two headers, explicit
// timestamps an hour in the past; values byte for byte, order within a
// partition kept, offsets dense from 0.
//
// Codecs: gzip is built into kafkajs; snappy comes from kafkajs-snappy (pure
// JS), lz4 from kafkajs-lz4 and zstd from zstd-napi (native, optional
// dependencies): when one does not load, its case is skipped with the reason.
'use strict'

const SUITE = 'kafkajs'
const TIMEOUT_MS = 30000

class Skip extends Error {}

let kafkajs = null
let importError = null
try {
  kafkajs = require('kafkajs')
} catch (e) {
  importError = e
}

// codecs maps a case codec name to [CompressionTypes value, load error].
function loadCodecs () {
  const { CompressionTypes, CompressionCodecs } = kafkajs
  const out = { none: [CompressionTypes.None, null], gzip: [CompressionTypes.GZIP, null] }
  const load = (name, type, fn) => {
    try {
      CompressionCodecs[type] = fn()
      out[name] = [type, null]
    } catch (e) {
      out[name] = [type, e]
    }
  }
  load('snappy', CompressionTypes.Snappy, () => require('kafkajs-snappy'))
  load('lz4', CompressionTypes.LZ4, () => new (require('kafkajs-lz4'))().codec)
  load('zstd', CompressionTypes.ZSTD, () => {
    const zstd = require('zstd-napi')
    return () => ({
      async compress (encoder) { return zstd.compress(encoder.buffer) },
      async decompress (buffer) { return zstd.decompress(buffer) }
    })
  })
  return out
}

function client (bootstrap) {
  if (!kafkajs) throw new Error(`kafkajs not loadable (${importError.message}): run scripts/install-test-deps.sh`)
  const { Kafka, logLevel } = kafkajs
  return new Kafka({
    clientId: 'petrel-compat',
    brokers: [bootstrap],
    connectionTimeout: 5000,
    requestTimeout: TIMEOUT_MS,
    retry: { retries: 5 },
    logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, label, log }) => {
      process.stderr.write(`kafkajs ${label} ${namespace}: ${log.message} ${log.error || ''}\n`)
    }
  })
}

function topicName (name, extra = '') {
  const run = process.env.COMPAT_RUN_ID || require('crypto').randomBytes(4).toString('hex')
  return `compat-kafkajs-${name.replace(/_/g, '-')}${extra}-${run}`
}

async function waitUntil (what, fn, timeoutMs = TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await fn()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

// withTopic creates a topic, runs fn(admin, topic) and deletes the topic.
async function withTopic (kafka, name, partitions, fn, configEntries = []) {
  const admin = kafka.admin()
  await admin.connect()
  const topic = topicName(name)
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }],
      waitForLeaders: true,
      timeout: TIMEOUT_MS
    })
    await fn(admin, topic)
  } finally {
    try {
      if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic], timeout: 10000 })
    } catch (e) {
      console.error(`delete ${topic}: ${e.message}`)
    }
    await admin.disconnect()
  }
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

function makeRecords (n, partitions = 1, tag = 'r') {
  const baseTs = Math.floor((Date.now() - 3600 * 1000) / 1000) * 1000
  const out = []
  for (let i = 0; i < n; i++) {
    const r = i % 256
    const value = Buffer.concat([Buffer.from(`${tag}-${i}|`), ALL_BYTES.subarray(r), ALL_BYTES.subarray(0, r),
      Buffer.from('petrel '.repeat(i % 40))])
    out.push({
      partition: i % partitions,
      key: Buffer.from(`k-${i}`),
      value,
      headers: [['h-str', Buffer.from(`hv-${i}`)], ['h-bin', Buffer.from([i % 256, 0, 255])]],
      ts: baseTs + 7 * i
    })
  }
  return out
}

function toMessage (r) {
  return { partition: r.partition, key: r.key, value: r.value, headers: Object.fromEntries(r.headers), timestamp: String(r.ts) }
}

function fromMessage (partition, m) {
  return {
    partition,
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    headers: Object.entries(m.headers || {}),
    ts: Number(m.timestamp)
  }
}

function same (a, b) { return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b) }

// checkRecords: per partition, order kept, offsets dense from 0, key, value
// (byte for byte), headers and timestamp equal.
function checkRecords (expected, got) {
  const group = rs => rs.reduce((m, r) => { (m[r.partition] = m[r.partition] || []).push(r); return m }, {})
  const want = group(expected)
  const have = group(got)
  const keys = o => Object.keys(o).sort().join(',')
  if (keys(want) !== keys(have)) throw new Error(`partitions consumed [${keys(have)}], want [${keys(want)}]`)
  for (const p of Object.keys(want)) {
    const ws = want[p]
    const hs = have[p]
    if (ws.length !== hs.length) throw new Error(`partition ${p}: consumed ${hs.length} records, want ${ws.length}`)
    ws.forEach((w, j) => {
      const h = hs[j]
      const where = `partition ${p} record ${j}`
      if (h.offset !== j) throw new Error(`${where}: offset ${h.offset}, want ${j} (dense from 0)`)
      if (!same(h.key, w.key)) throw new Error(`${where}: key ${h.key}, want ${w.key}`)
      if (!same(h.value, w.value)) throw new Error(`${where}: value differs (${h.value && h.value.length} bytes, want ${w.value.length})`)
      const hh = JSON.stringify(h.headers.map(([k, v]) => [k, [...v]]))
      const wh = JSON.stringify(w.headers.map(([k, v]) => [k, [...v]]))
      if (hh !== wh) throw new Error(`${where}: headers ${hh}, want ${wh}`)
      if (h.ts !== w.ts) throw new Error(`${where}: timestamp ${h.ts}, want ${w.ts}`)
    })
  }
}

// produce sends recs in one call and returns the base offset of each partition.
async function produce (kafka, topic, recs, { acks = -1, compression, idempotent = false } = {}) {
  const { Partitioners } = kafkajs
  const producer = kafka.producer({
    idempotent,
    maxInFlightRequests: idempotent ? 1 : undefined,
    createPartitioner: Partitioners.DefaultPartitioner
  })
  await producer.connect()
  try {
    const res = await producer.send({ topic, acks, compression, timeout: TIMEOUT_MS, messages: recs.map(toMessage) })
    return Object.fromEntries((res || []).map(r => [r.partition, r.baseOffset]))
  } finally {
    await producer.disconnect()
  }
}

// consume reads n records from the start with a fresh group (kafkajs'
// consumer is group based only).
async function consume (kafka, topic, n) {
  const consumer = kafka.consumer({ groupId: topicName('read', '-' + topic), sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 250 })
  await consumer.connect()
  const got = []
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => { got.push(fromMessage(partition, message)) } })
    await waitUntil(`${n} records`, () => got.length >= n)
  } finally {
    await consumer.disconnect()
  }
  return got.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}

// checkCodec asks the batchcodec helper ($COMPAT_BATCHCODEC, built by
// run.sh) whether every stored batch of partition 0 is in codec.
function checkCodec (bootstrap, topic, n, codec) {
  const tool = process.env.COMPAT_BATCHCODEC
  if (!tool) throw new Error('COMPAT_BATCHCODEC is not set: run through test/compat/run.sh')
  const r = require('child_process').spawnSync(tool, ['-want', codec, bootstrap, topic, '0', String(n)], { encoding: 'utf8', timeout: 40000 })
  const msg = (r.stdout || r.stderr || String(r.error)).trim()
  if (r.status === 3) throw new Skip(msg.replace(/^skip: /, ''))
  if (r.status !== 0) throw new Error(msg)
  console.error(`codec ${codec}: ${msg}`)
}

async function roundtrip (bootstrap, name, { n = 100, partitions = 1, acks = -1, compression, idempotent, codec } = {}) {
  const kafka = client(bootstrap)
  await withTopic(kafka, name, partitions, async (admin, topic) => {
    const recs = makeRecords(n, partitions)
    const bases = await produce(kafka, topic, recs, { acks, compression, idempotent })
    if (acks !== 0) {
      for (let p = 0; p < partitions; p++) {
        if (bases[p] !== '0') throw new Error(`partition ${p}: produce base offset ${bases[p]}, want 0`)
      }
    }
    checkRecords(recs, await consume(kafka, topic, n))
    if (codec) checkCodec(bootstrap, topic, n, codec)
  })
}

const cases = {}

cases.produce_consume = (b, name) => roundtrip(b, name, { n: 300, partitions: 3 })

for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
  cases['codec_' + codec] = async (b, name) => {
    client(b)
    const [type, err] = loadCodecs()[codec]
    if (err) throw new Skip(`${codec} codec package does not load here: ${err.message.split('\n')[0]}`)
    await roundtrip(b, name, { n: 200, compression: type, codec })
  }
}

for (const [acksName, acks] of [['all', -1], ['1', 1], ['0', 0]]) {
  cases['acks_' + acksName] = (b, name) => roundtrip(b, name, { acks })
}

cases.idempotence = (b, name) => roundtrip(b, name, { n: 300, partitions: 2, idempotent: true })

cases.admin = async (b, name) => {
  const kafka = client(b)
  const { ConfigResourceTypes } = kafkajs
  await withTopic(kafka, name, 3, async (admin, topic) => {
    const topics = await admin.listTopics()
    if (!topics.includes(topic)) throw new Error(`listTopics misses ${topic}`)
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    const parts = md.topics[0].partitions.length
    if (parts !== 3) throw new Error(`${topic} has ${parts} partitions, want 3`)
    const d = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false })
    const entry = d.resources[0].configEntries.find(e => e.configName === 'retention.ms')
    if (!entry || entry.configValue !== '3600000') throw new Error(`retention.ms described as ${entry && entry.configValue}, want 3600000`)
    await admin.deleteTopics({ topics: [topic], timeout: TIMEOUT_MS })
    await waitUntil(`${topic} gone from listTopics`, async () => !(await admin.listTopics()).includes(topic))
  }, [{ name: 'retention.ms', value: '3600000' }])
}

// member starts one group consumer that commits after each record.
async function member (kafka, group, topic) {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 250 })
  const m = { consumer, records: [], assigned: [] }
  consumer.on(consumer.events.GROUP_JOIN, e => { m.assigned = (e.payload.memberAssignment[topic] || []).slice().sort() })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      m.records.push([partition, Number(message.offset)])
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }])
    }
  })
  return m
}

cases.group_rebalance = async (b, name) => {
  const kafka = client(b)
  const parts = 4
  const perPhase = 10
  await withTopic(kafka, name, parts, async (admin, topic) => {
    const group = topic + '-g'
    const members = []
    try {
      await produce(kafka, topic, makeRecords(parts * perPhase, parts, 'one'))
      const a = await member(kafka, group, topic)
      members.push(a)
      await waitUntil('member a to read phase one', () => a.records.length >= parts * perPhase)
      const m = await member(kafka, group, topic)
      members.push(m)
      await waitUntil('partitions split between two members', () => {
        const all = [...a.assigned, ...m.assigned].sort().join(',')
        return a.assigned.length > 0 && m.assigned.length > 0 && all === '0,1,2,3'
      })
      console.error(`assignment a=${a.assigned} b=${m.assigned}`)
      await produce(kafka, topic, makeRecords(parts * perPhase, parts, 'two'))
      await waitUntil('both members to read phase two', () => a.records.length + m.records.length >= 2 * parts * perPhase)
      if (m.records.length === 0) throw new Error('member b consumed nothing')
      const seen = new Set()
      for (const [p, o] of [...a.records, ...m.records]) {
        const k = `${p}/${o}`
        if (seen.has(k)) throw new Error(`partition ${p} offset ${o} consumed twice`)
        seen.add(k)
      }
      for (let p = 0; p < parts; p++) {
        for (let o = 0; o < 2 * perPhase; o++) if (!seen.has(`${p}/${o}`)) throw new Error(`partition ${p} offset ${o} never consumed`)
      }
      if (seen.size !== 2 * parts * perPhase) throw new Error(`consumed ${seen.size} distinct records, want ${2 * parts * perPhase}`)
      const offs = await admin.fetchOffsets({ groupId: group, topics: [topic] })
      const got = offs[0].partitions.map(x => `${x.partition}:${x.offset}`).sort().join(',')
      const want = [0, 1, 2, 3].map(p => `${p}:${2 * perPhase}`).join(',')
      if (got !== want) throw new Error(`committed offsets ${got}, want ${want}`)
    } finally {
      for (const x of members) await x.consumer.disconnect()
    }
  })
}

async function main (argv) {
  if (argv.length === 1 && argv[0] === '--list') {
    console.log(Object.keys(cases).join('\n'))
    return 0
  }
  if (argv.length !== 2 || !(argv[1] in cases)) {
    console.error('usage: test.js --list | BOOTSTRAP CASE')
    return 2
  }
  const [bootstrap, name] = argv
  try {
    await cases[name](bootstrap, name)
  } catch (e) {
    if (e instanceof Skip) {
      console.log(`skip ${SUITE} ${name}: ${e.message}`)
      return 0
    }
    console.error(e.stack)
    console.log(`FAIL ${SUITE} ${name}: ${String(e.message).replace(/\n/g, ' ').slice(0, 300)}`)
    return 1
  }
  console.log(`ok ${SUITE} ${name}`)
  return 0
}

main(process.argv.slice(2)).then(code => process.exit(code), e => {
  console.error(e)
  process.exit(1)
})
