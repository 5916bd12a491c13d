#!/usr/bin/python3
"""confluent-kafka-python (librdkafka) cases of the compatibility suite.

    python_confluent.py --list | BOOTSTRAP CASE     (see compat_common.py)
    python_confluent.py --admin create BOOTSTRAP TOPIC PARTITIONS
    python_confluent.py --admin delete BOOTSTRAP TOPIC
    python_confluent.py --admin committed BOOTSTRAP GROUP TOPIC PARTITIONS
    python_confluent.py --admin produce BOOTSTRAP TOPIC N

The --admin modes serve kcat.sh, which has no admin API: create/delete a
topic, print a group's committed offsets ("PARTITION OFFSET" lines), and
produce the standard records with explicit timestamps to partition 0,
printing "OFFSET TIMESTAMP KEY" for each.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compat_common import Rec, Suite, check_codec, check_produced_offsets, check_records, check_split_once, log, make_records, wait_until  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
except ImportError as e:  # reported per case so run.sh shows every case
    ck = None
    IMPORT_ERROR = e

suite = Suite("confluent")
TIMEOUT_S = 30.0


def need_client():
    if ck is None:
        raise AssertionError("confluent-kafka not importable (%s): run scripts/install-test-deps.sh" % IMPORT_ERROR)


def admin(bootstrap):
    need_client()
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, name, partitions, config=None):
    a = admin(bootstrap)
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
                         operation_timeout=TIMEOUT_S, request_timeout=TIMEOUT_S)
    fs[name].result(TIMEOUT_S)

    def ready():
        md = a.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        return t is not None and t.error is None and len(t.partitions) == partitions and \
            all(p.leader >= 0 for p in t.partitions.values())

    wait_until("topic %s in metadata" % name, ready, TIMEOUT_S)
    return a


def delete_topic(bootstrap, name):
    try:
        a = admin(bootstrap)  # keep the handle alive until the result is in
        a.delete_topics([name], operation_timeout=10, request_timeout=10)[name].result(15)
    except Exception as e:  # cleanup only
        log("delete %s: %s" % (name, e))


def produce(bootstrap, topic, recs, conf=None):
    """Produces recs in order and returns the delivery reports' offsets."""
    need_client()
    c = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    c.update(conf or {})
    p = ck.Producer(c)
    reports = [None] * len(recs)
    errors = []

    def on_delivery(i):
        def cb(err, msg):
            if err is not None:
                errors.append("record %d: %s" % (i, err))
            else:
                reports[i] = msg.offset()
        return cb

    for i, r in enumerate(recs):
        while True:
            try:
                p.produce(topic, value=r.value, key=r.key, partition=r.partition, timestamp=r.ts,
                          headers=r.headers, on_delivery=on_delivery(i))
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(TIMEOUT_S)
    if left:
        raise AssertionError("%d records not delivered within %.0fs" % (left, TIMEOUT_S))
    if errors:
        raise AssertionError("delivery failed: %s" % errors[:3])
    return reports


def to_rec(m):
    ts_type, ts = m.timestamp()
    return Rec(m.partition(), m.key(), m.value(), m.headers() or [], ts, m.offset())


def consume_assigned(bootstrap, topic, partitions, n):
    """Reads n records from the start of the topic's partitions (no group)."""
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-assign-" + topic,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise AssertionError("consume: %s" % m.error())
            got.append(to_rec(m))
        if len(got) < n:
            raise AssertionError("consumed %d of %d records within %.0fs" % (len(got), n, TIMEOUT_S))
        return got
    finally:
        c.close()


def roundtrip(bootstrap, case, n=100, partitions=1, conf=None, reports_have_offsets=True, codec=None):
    topic = suite.topic(case)
    create_topic(bootstrap, topic, partitions)
    try:
        recs = make_records(n, partitions)
        reports = produce(bootstrap, topic, recs, conf)
        if reports_have_offsets:
            check_produced_offsets(recs, reports, "delivery report")
        check_records(recs, consume_assigned(bootstrap, topic, partitions, n))
        if codec:
            check_codec(bootstrap, topic, 0, n, codec)
    finally:
        delete_topic(bootstrap, topic)


@suite.case("produce_consume")
def produce_consume(bootstrap, case):
    roundtrip(bootstrap, case, n=300, partitions=3, conf={"acks": "all"})


def codec_case(codec):
    @suite.case("codec_" + codec)
    def run(bootstrap, case):
        need_client()
        roundtrip(bootstrap, case, n=200, conf={"compression.type": codec, "linger.ms": 20}, codec=codec)


for _codec in ("none", "gzip", "snappy", "lz4", "zstd"):
    codec_case(_codec)


def acks_case(acks):
    @suite.case("acks_" + acks)
    def run(bootstrap, case):
        # acks=0 gets no offsets back: librdkafka reports OFFSET_INVALID.
        roundtrip(bootstrap, case, n=100, conf={"acks": acks}, reports_have_offsets=acks != "0")


for _acks in ("all", "1", "0"):
    acks_case(_acks)


@suite.case("idempotence")
def idempotence(bootstrap, case):
    roundtrip(bootstrap, case, n=300, partitions=2,
              conf={"enable.idempotence": True, "max.in.flight.requests.per.connection": 5, "linger.ms": 1})


@suite.case("admin")
def admin_case(bootstrap, case):
    topic = suite.topic(case)
    a = create_topic(bootstrap, topic, 3, {"retention.ms": "3600000"})
    try:
        md = a.list_topics(timeout=10)
        if topic not in md.topics:
            raise AssertionError("list_topics misses %s" % topic)
        if len(md.topics[topic].partitions) != 3:
            raise AssertionError("%s has %d partitions, want 3" % (topic, len(md.topics[topic].partitions)))
        res = ConfigResource(ConfigResource.Type.TOPIC, topic)
        configs = a.describe_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)
        got = configs.get("retention.ms")
        if got is None or got.value != "3600000":
            raise AssertionError("retention.ms described as %r, want 3600000" % (got and got.value))
        a.delete_topics([topic], operation_timeout=TIMEOUT_S, request_timeout=TIMEOUT_S)[topic].result(TIMEOUT_S)
        wait_until("%s gone from list_topics" % topic, lambda: topic not in a.list_topics(timeout=5).topics, TIMEOUT_S)
    finally:
        delete_topic(bootstrap, topic)


def group_consumer(bootstrap, group, topic):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 500, "partition.assignment.strategy": "range"})
    c.subscribe([topic])
    return c


def poll_into(c, out):
    m = c.poll(0.2)
    if m is None:
        return
    if m.error():
        raise AssertionError("group consume: %s" % m.error())
    out.append((m.partition(), m.offset()))


@suite.case("group_rebalance")
def group_rebalance(bootstrap, case):
    topic, group = suite.topic(case), suite.topic(case, "-g")
    parts, per_phase = 4, 10
    create_topic(bootstrap, topic, parts)
    a = b = None
    try:
        produce(bootstrap, topic, make_records(parts * per_phase, parts, "one"))
        a = group_consumer(bootstrap, group, topic)
        got = {"a": [], "b": []}

        def a_has_all():
            poll_into(a, got["a"])
            return len(got["a"]) >= parts * per_phase
        wait_until("consumer a to read phase one", a_has_all, TIMEOUT_S, 0)
        a.commit(asynchronous=False)

        b = group_consumer(bootstrap, group, topic)

        def split():
            poll_into(a, got["a"])
            poll_into(b, got["b"])
            pa = {tp.partition for tp in a.assignment()}
            pb = {tp.partition for tp in b.assignment()}
            return pa and pb and not (pa & pb) and (pa | pb) == set(range(parts))
        wait_until("partitions split between two consumers", split, TIMEOUT_S, 0)
        log("assignment a=%s b=%s" % (sorted(tp.partition for tp in a.assignment()),
                                      sorted(tp.partition for tp in b.assignment())))

        produce(bootstrap, topic, make_records(parts * per_phase, parts, "two"))

        def all_read():
            poll_into(a, got["a"])
            poll_into(b, got["b"])
            return len(got["a"]) + len(got["b"]) >= 2 * parts * per_phase
        wait_until("both consumers to read phase two", all_read, TIMEOUT_S, 0)
        for c in (a, b):
            c.commit(asynchronous=False)
        check_split_once(got, parts, 2 * per_phase)
        committed = a.committed([ck.TopicPartition(topic, p) for p in range(parts)], timeout=TIMEOUT_S)
        offs = {tp.partition: tp.offset for tp in committed}
        if offs != {p: 2 * per_phase for p in range(parts)}:
            raise AssertionError("committed offsets %s, want %d each" % (offs, 2 * per_phase))
    finally:
        for c in (a, b):
            if c is not None:
                c.close()
        delete_topic(bootstrap, topic)


def admin_main(argv):
    """The --admin modes used by kcat.sh."""
    op, bootstrap, rest = argv[0], argv[1], argv[2:]
    if op == "create":
        create_topic(bootstrap, rest[0], int(rest[1]))
    elif op == "delete":
        delete_topic(bootstrap, rest[0])
    elif op == "committed":
        group, topic, parts = rest[0], rest[1], int(rest[2])
        c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            for tp in c.committed([ck.TopicPartition(topic, p) for p in range(parts)], timeout=TIMEOUT_S):
                print(tp.partition, tp.offset)
        finally:
            c.close()
    elif op == "produce":
        topic, n = rest[0], int(rest[1])
        recs = make_records(n)
        for r, off in zip(recs, produce(bootstrap, topic, recs, {"acks": "all"})):
            print(off, r.ts, r.key.decode())
    else:
        sys.stderr.write("unknown --admin op %s\n" % op)
        return 2
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--admin":
        sys.exit(admin_main(sys.argv[2:]))
    sys.exit(suite.main())
