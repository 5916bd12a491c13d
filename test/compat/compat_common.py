"""Shared harness for the Python client suites of the compatibility suite.

Each suite script (python_confluent.py, python_kafka.py) registers named
cases with @suite.case and ends with suite.main(). The protocol with
run.sh is the same for every client, Python, shell or Node:

    SCRIPT --list                 one case name per line
    SCRIPT BOOTSTRAP CASE         runs one case, prints exactly one line
                                  "ok SUITE CASE", "skip SUITE CASE: why" or
                                  "FAIL SUITE CASE: why"; exits 0 unless FAIL

Diagnostics go to stderr. Topic names are unique per run
(compat-SUITE-CASE-RUNID, RUNID from $COMPAT_RUN_ID or random), so runs
never collide; cases create their topics through an admin API and delete
them at the end (best effort).

The records every client produces and checks are built here, so all
clients prove the same thing: keys, binary values (every byte value, and a
compressible tail), two headers (one binary), explicit timestamps one hour
in the past, values compared byte for byte, order within a partition kept
and offsets dense from 0.
"""

import os
import secrets
import subprocess
import sys
import time
import traceback


class Skip(Exception):
    """Raised by a case that cannot run with this client here."""


class Suite:
    def __init__(self, name):
        self.name = name
        self.cases = {}

    def case(self, name):
        def register(fn):
            self.cases[name] = fn
            return fn

        return register

    def topic(self, case, extra=""):
        run = os.environ.get("COMPAT_RUN_ID") or secrets.token_hex(4)
        return "compat-%s-%s%s-%s" % (self.name, case.replace("_", "-"), extra, run)

    def main(self, argv=None):
        argv = sys.argv[1:] if argv is None else argv
        if argv == ["--list"]:
            for name in self.cases:
                print(name)
            return 0
        if len(argv) != 2 or argv[1] not in self.cases:
            sys.stderr.write("usage: %s --list | BOOTSTRAP CASE\n" % sys.argv[0])
            return 2
        bootstrap, name = argv
        try:
            self.cases[name](bootstrap, name)
        except Skip as e:
            print("skip %s %s: %s" % (self.name, name, e), flush=True)
            return 0
        except Exception as e:  # any failure is reported, never raised
            traceback.print_exc(file=sys.stderr)
            reason = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")
            print("FAIL %s %s: %s" % (self.name, name, reason[:300]), flush=True)
            return 1
        print("ok %s %s" % (self.name, name), flush=True)
        return 0


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Rec:
    """One record as produced and as consumed (offset is None until read)."""

    __slots__ = ("partition", "key", "value", "headers", "ts", "offset")

    def __init__(self, partition, key, value, headers, ts, offset=None):
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.ts = ts
        self.offset = offset

    def __repr__(self):
        return "Rec(p=%s o=%s k=%r ts=%s len=%d)" % (
            self.partition, self.offset, self.key, self.ts, len(self.value or b""))


ALL_BYTES = bytes(range(256))


def make_records(n, partitions=1, tag="r"):
    """n records spread round-robin over partitions, with explicit timestamps."""
    base_ts = (int(time.time() * 1000) - 3600 * 1000) // 1000 * 1000
    out = []
    for i in range(n):
        value = ("%s-%d|" % (tag, i)).encode() + ALL_BYTES[i % 256:] + ALL_BYTES[: i % 256]
        value += b"petrel " * (i % 40)  # compressible tail
        headers = [("h-str", ("hv-%d" % i).encode()), ("h-bin", bytes([i % 256, 0, 255]))]
        out.append(Rec(i % partitions, ("k-%d" % i).encode(), value, headers, base_ts + 7 * i))
    return out


def check_records(expected, got, check_ts=True):
    """Checks consumed records against produced ones, per partition.

    Order within a partition is kept, offsets are dense from 0, and key,
    value (byte for byte), headers and timestamp match.
    """
    want = {}
    for r in expected:
        want.setdefault(r.partition, []).append(r)
    have = {}
    for r in got:
        have.setdefault(r.partition, []).append(r)
    if sorted(have) != sorted(want):
        raise AssertionError("partitions consumed %s, want %s" % (sorted(have), sorted(want)))
    for p, ws in want.items():
        hs = have[p]
        if len(hs) != len(ws):
            raise AssertionError("partition %d: consumed %d records, want %d" % (p, len(hs), len(ws)))
        for j, (w, h) in enumerate(zip(ws, hs)):
            where = "partition %d record %d" % (p, j)
            if h.offset != j:
                raise AssertionError("%s: offset %s, want %d (dense from 0)" % (where, h.offset, j))
            if h.key != w.key:
                raise AssertionError("%s: key %r, want %r" % (where, h.key, w.key))
            if h.value != w.value:
                raise AssertionError("%s: value differs (%d bytes, want %d)" % (where, len(h.value or b""), len(w.value)))
            if list(h.headers) != list(w.headers):
                raise AssertionError("%s: headers %r, want %r" % (where, h.headers, w.headers))
            if check_ts and h.ts != w.ts:
                raise AssertionError("%s: timestamp %s, want %s" % (where, h.ts, w.ts))


def check_produced_offsets(recs, offsets, what):
    """Checks the offsets a producer got back: dense from 0 per partition,
    in produce order."""
    next_off = {}
    for r, off in zip(recs, offsets):
        want = next_off.get(r.partition, 0)
        if off != want:
            raise AssertionError("%s partition %d: offset %s, want %d" % (what, r.partition, off, want))
        next_off[r.partition] = want + 1


def check_split_once(records_by_member, partitions, per_partition):
    """Checks a group's consumption: every (partition, offset) exactly once
    across members, nothing missing, and every member took records."""
    seen = {}
    for member, recs in records_by_member.items():
        if not recs:
            raise AssertionError("member %s consumed nothing" % member)
        for p, o in recs:
            if (p, o) in seen:
                raise AssertionError("partition %d offset %d consumed twice (%s and %s)" % (p, o, seen[(p, o)], member))
            seen[(p, o)] = member
    want = {(p, o) for p in range(partitions) for o in range(per_partition)}
    missing = sorted(want - set(seen))
    if missing:
        raise AssertionError("%d records never consumed, first %s" % (len(missing), missing[:3]))
    extra = sorted(set(seen) - want)
    if extra:
        raise AssertionError("unexpected records %s" % extra[:3])


def check_codec(bootstrap, topic, partition, n, codec):
    """Checks with the batchcodec helper ($COMPAT_BATCHCODEC, built by
    run.sh) that every stored batch of the partition is in codec: a client
    may fall back to uncompressed batches without a word."""
    tool = os.environ.get("COMPAT_BATCHCODEC")
    if not tool:
        raise AssertionError("COMPAT_BATCHCODEC is not set: run through test/compat/run.sh")
    p = subprocess.run([tool, "-want", codec, bootstrap, topic, str(partition), str(n)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=40)
    msg = (p.stdout.strip() or p.stderr.strip()).replace("\n", " ")
    if p.returncode == 3:
        raise Skip(msg[len("skip: "):] if msg.startswith("skip: ") else msg)
    if p.returncode != 0:
        raise AssertionError(msg)
    log("codec %s: %s" % (codec, msg))


def wait_until(what, fn, timeout_s=30.0, step_s=0.1):
    """Polls fn until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout_s, what))
        time.sleep(step_s)
