"""Shared plumbing of the compatibility suite's Python client scripts.

A script is run as `python3 SCRIPT OP` with the request as JSON on stdin and
answers with JSON on stdout; any failure is a message on stderr and exit
status 1 (see compat/script_test.go). Records travel as JSON objects with
base64 keys, values and header values; a null key is JSON null.
"""

import base64
import json
import sys
import time
import traceback


def b64(data):
    if data is None:
        return None
    return base64.b64encode(bytes(data)).decode("ascii")


def unb64(text):
    if text is None:
        return None
    return base64.b64decode(text)


def record_in(r):
    """A request record as (key, value, [(header, value)], timestamp_ms or None)."""
    headers = [(h["key"], unb64(h["value"])) for h in (r.get("headers") or [])]
    ts = r.get("timestamp") or None
    return unb64(r.get("key")), unb64(r.get("value")), headers, ts


def record_out(key, value, headers, timestamp, partition, offset):
    return {
        "key": b64(key),
        "value": b64(value),
        "headers": [{"key": k, "value": b64(v)} for k, v in (headers or [])],
        "timestamp": timestamp,
        "partition": partition,
        "offset": offset,
    }


class Deadline:
    """The time the script has for its operation (the request's timeout_s)."""

    def __init__(self, seconds):
        self.end = time.monotonic() + float(seconds)

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def passed(self):
        return time.monotonic() >= self.end


def main(ops, version):
    if len(sys.argv) != 2:
        sys.exit("usage: %s OP < request.json" % sys.argv[0])
    op = sys.argv[1]
    try:
        if op == "version":
            result = {"version": version()}
        else:
            req = json.load(sys.stdin)
            if op not in ops:
                raise Exception("unknown operation %r" % op)
            result = ops[op](req, Deadline(req.get("timeout_s", 30))) or {}
    except Exception as e:  # every failure goes to the suite as a message
        traceback.print_exc(file=sys.stderr)
        sys.exit("%s: %s: %s" % (op, type(e).__name__, e))
    json.dump(result, sys.stdout)
