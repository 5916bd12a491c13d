#!/usr/bin/python3
"""kafka-python (pure Python, Debian python3-kafka 2.0.2) cases of the
compatibility suite.

    python_kafka.py --list | BOOTSTRAP CASE     (see compat_common.py)

Codecs: gzip always; snappy, lz4 and zstd only when kafka-python finds
their modules (python3-snappy, python3-lz4, python3-zstandard), else the
case is skipped with the reason. kafka-python 2.0.2 has no idempotent
producer, so that case is a skip.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compat_common import Rec, Skip, Suite, check_codec, check_produced_offsets, check_records, check_split_once, log, make_records, wait_until  # noqa: E402

try:
    import kafka
    from kafka import codec as kcodec
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
    from kafka.structs import TopicPartition
except ImportError as e:  # reported per case so run.sh shows every case
    kafka = None
    IMPORT_ERROR = e

suite = Suite("kafka-python")
TIMEOUT_S = 30.0


def need_client():
    if kafka is None:
        raise AssertionError("kafka-python not importable (%s): run scripts/install-test-deps.sh" % IMPORT_ERROR)


def admin(bootstrap):
    need_client()
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(TIMEOUT_S * 1000))


def wait_topic(bootstrap, topic, partitions):
    c = kafka.KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        wait_until("topic %s in metadata" % topic,
                   lambda: len(c.partitions_for_topic(topic) or ()) == partitions, TIMEOUT_S, 0.2)
    finally:
        c.close()


def create_topic(bootstrap, topic, partitions, configs=None):
    a = admin(bootstrap)
    try:
        resp = a.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs or {})],
                               timeout_ms=int(TIMEOUT_S * 1000))
        for t in resp.topic_errors:
            if t[1] != 0:
                raise AssertionError("create %s: error code %d %s" % (t[0], t[1], t[2:]))
    finally:
        a.close()
    wait_topic(bootstrap, topic, partitions)


def delete_topic(bootstrap, topic):
    try:
        a = admin(bootstrap)
        try:
            a.delete_topics([topic], timeout_ms=10000)
        finally:
            a.close()
    except Exception as e:  # cleanup only
        log("delete %s: %s" % (topic, e))


def produce(bootstrap, topic, recs, **conf):
    """Produces recs in order and returns the record metadata offsets."""
    need_client()
    conf.setdefault("linger_ms", 5)
    p = kafka.KafkaProducer(bootstrap_servers=bootstrap, **conf)
    try:
        futs = [p.send(topic, value=r.value, key=r.key, partition=r.partition, timestamp_ms=r.ts, headers=r.headers)
                for r in recs]
        p.flush(TIMEOUT_S)
        return [f.get(TIMEOUT_S).offset for f in futs]
    finally:
        p.close(TIMEOUT_S)


def to_rec(m):
    return Rec(m.partition, m.key, m.value, list(m.headers or []), m.timestamp, m.offset)


def consume_assigned(bootstrap, topic, partitions, n):
    c = kafka.KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < n and time.monotonic() < deadline:
            for msgs in c.poll(timeout_ms=500).values():
                got.extend(to_rec(m) for m in msgs)
        if len(got) < n:
            raise AssertionError("consumed %d of %d records within %.0fs" % (len(got), n, TIMEOUT_S))
        got.sort(key=lambda r: (r.partition, r.offset))  # poll groups by partition; order checked per partition
        return got
    finally:
        c.close()


def roundtrip(bootstrap, case, n=100, partitions=1, has_offsets=True, codec=None, **conf):
    topic = suite.topic(case)
    create_topic(bootstrap, topic, partitions)
    try:
        recs = make_records(n, partitions)
        offsets = produce(bootstrap, topic, recs, **conf)
        if has_offsets:
            check_produced_offsets(recs, offsets, "record metadata")
        check_records(recs, consume_assigned(bootstrap, topic, partitions, n))
        if codec:
            check_codec(bootstrap, topic, 0, n, codec)
    finally:
        delete_topic(bootstrap, topic)


@suite.case("produce_consume")
def produce_consume(bootstrap, case):
    roundtrip(bootstrap, case, n=300, partitions=3, acks="all")


CODECS = {
    "none": lambda: True,
    "gzip": lambda: kcodec.has_gzip(),
    "snappy": lambda: kcodec.has_snappy(),
    "lz4": lambda: kcodec.has_lz4(),
    "zstd": lambda: kcodec.has_zstd(),
}


def codec_case(name):
    @suite.case("codec_" + name)
    def run(bootstrap, case):
        need_client()
        if not CODECS[name]():
            raise Skip("kafka-python finds no %s module (install python3-%s)" % (
                name, {"zstd": "zstandard"}.get(name, name)))
        roundtrip(bootstrap, case, n=200, codec=name, compression_type=None if name == "none" else name, linger_ms=20)


for _codec in CODECS:
    codec_case(_codec)


def acks_case(name, acks):
    @suite.case("acks_" + name)
    def run(bootstrap, case):
        # acks=0: kafka-python returns offset -1 without waiting for the broker.
        roundtrip(bootstrap, case, n=100, has_offsets=acks != 0, acks=acks)


for _name, _acks in (("all", "all"), ("1", 1), ("0", 0)):
    acks_case(_name, _acks)


@suite.case("idempotence")
def idempotence(bootstrap, case):
    raise Skip("kafka-python 2.0.2 has no idempotent producer")


@suite.case("admin")
def admin_case(bootstrap, case):
    topic = suite.topic(case)
    create_topic(bootstrap, topic, 3, {"retention.ms": "3600000"})
    a = admin(bootstrap)
    try:
        if topic not in a.list_topics():
            raise AssertionError("list_topics misses %s" % topic)
        resps = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {}
        for resp in resps:
            for res in resp.resources:  # (error_code, error_message, type, name, config_entries)
                if res[0] != 0:
                    raise AssertionError("describe_configs: error code %d %s" % (res[0], res[1]))
                for e in res[4]:
                    entries[e[0]] = e[1]
        if entries.get("retention.ms") != "3600000":
            raise AssertionError("retention.ms described as %r, want 3600000" % entries.get("retention.ms"))
        resp = a.delete_topics([topic], timeout_ms=int(TIMEOUT_S * 1000))
        for t in resp.topic_error_codes:
            if t[1] != 0:
                raise AssertionError("delete %s: error code %d" % (t[0], t[1]))
        wait_until("%s gone from list_topics" % topic, lambda: topic not in a.list_topics(), TIMEOUT_S, 0.2)
    finally:
        a.close()
        delete_topic(bootstrap, topic)


class GroupMember(threading.Thread):
    """One group consumer, polled on its own thread: kafka-python's poll
    blocks through a whole join, which needs the other member polled too.
    The consumer is touched only by this thread; the main thread reads the
    snapshots and asks for commits through events."""

    def __init__(self, bootstrap, group, topic):
        super().__init__(daemon=True)
        self.args = (bootstrap, group, topic)
        self.records = []  # (partition, offset), appended by this thread
        self.assigned = frozenset()
        self.error = None
        self.commit_req = threading.Event()
        self.committed = threading.Event()
        self.stop = threading.Event()
        self.start()

    def run(self):
        bootstrap, group, topic = self.args
        try:
            c = kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                    auto_offset_reset="earliest", session_timeout_ms=6000,
                                    heartbeat_interval_ms=500)
            try:
                c.subscribe([topic])
                while not self.stop.is_set():
                    for msgs in c.poll(timeout_ms=100).values():
                        self.records.extend((m.partition, m.offset) for m in msgs)
                    self.assigned = frozenset(tp.partition for tp in c.assignment())
                    if self.commit_req.is_set():
                        c.commit()
                        self.commit_req.clear()
                        self.committed.set()
            finally:
                c.close()
        except Exception as e:  # reported by the main thread
            self.error = e

    def commit(self):
        self.committed.clear()
        self.commit_req.set()
        wait_until("commit", lambda: self.committed.is_set() or self.error, TIMEOUT_S, 0.05)
        self.check()

    def check(self):
        if self.error is not None:
            raise AssertionError("group consumer: %s" % self.error)
        return True

    def close(self):
        self.stop.set()
        self.join(TIMEOUT_S)


@suite.case("group_rebalance")
def group_rebalance(bootstrap, case):
    topic, group = suite.topic(case), suite.topic(case, "-g")
    parts, per_phase = 4, 10
    create_topic(bootstrap, topic, parts)
    a = b = None
    try:
        produce(bootstrap, topic, make_records(parts * per_phase, parts, "one"), acks="all")
        a = GroupMember(bootstrap, group, topic)
        wait_until("consumer a to read phase one", lambda: a.check() and len(a.records) >= parts * per_phase,
                   TIMEOUT_S, 0.05)
        a.commit()

        b = GroupMember(bootstrap, group, topic)

        def split():
            a.check(), b.check()
            pa, pb = a.assigned, b.assigned
            return pa and pb and not (pa & pb) and (pa | pb) == set(range(parts))
        wait_until("partitions split between two consumers", split, TIMEOUT_S, 0.05)
        log("assignment a=%s b=%s" % (sorted(a.assigned), sorted(b.assigned)))

        produce(bootstrap, topic, make_records(parts * per_phase, parts, "two"), acks="all")
        wait_until("both consumers to read phase two",
                   lambda: a.check() and b.check() and len(a.records) + len(b.records) >= 2 * parts * per_phase,
                   TIMEOUT_S, 0.05)
        a.commit()
        b.commit()
        check_split_once({"a": list(a.records), "b": list(b.records)}, parts, 2 * per_phase)
        for m in (a, b):
            m.close()
        a = b = None

        c = kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        try:
            tps = [TopicPartition(topic, p) for p in range(parts)]
            offs = {tp.partition: c.committed(tp) for tp in tps}
            end = {tp.partition: o for tp, o in c.end_offsets(tps).items()}
        finally:
            c.close()
        want = {p: 2 * per_phase for p in range(parts)}
        if offs != want or end != want:
            raise AssertionError("committed offsets %s, end offsets %s, want %d each" % (offs, end, 2 * per_phase))
    finally:
        for m in (a, b):
            if m is not None:
                m.close()
        delete_topic(bootstrap, topic)


if __name__ == "__main__":
    sys.exit(suite.main())
