#!/usr/bin/env python3
"""Verify an anaspoc audit export (JSON Lines) with nothing but the standard library.

hash = hex(sha256(prev_hash + "\\n" + JCS(event without "hash"))), first prev_hash = 64 zeros,
seq = 1, 2, 3 ... For these events (string keys, strings, integers, booleans, null) RFC 8785 JCS
is json.dumps with sorted keys, no whitespace and UTF-8 output.
"""
import hashlib
import json
import sys

prev, seq = "0" * 64, 1
with open(sys.argv[1], encoding="utf-8") as export:
    for line in filter(str.strip, export):
        event = json.loads(line)
        found = event.pop("hash")
        if event["seq"] != seq or event["prev_hash"] != prev:
            sys.exit(f"broken at seq {seq}: out of sequence or not linked to the previous event")
        body = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        expected = hashlib.sha256((prev + "\n" + body).encode("utf-8")).hexdigest()
        if expected != found:
            sys.exit(f"broken at seq {seq}: expected {expected}, found {found}")
        prev, seq = found, seq + 1
print(f"ok {seq - 1} {prev}")
