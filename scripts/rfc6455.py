#!/usr/bin/env python3
"""RFC 6455 conformance of scholia's socket stack: the Autobahn TestSuite cases, driven by
kosoku (PyPI; Python 3), against `/_echo` of a release server started with `--echo-endpoint`.
`/_echo` runs the same handshake, limits and socket task as `/ws` and sends every data message
back, so the echo cases apply to the production read/write loop. Prints a Markdown table (one
row per case group, verdicts counted) and the cases that were not OK; `--json FILE` keeps the
per-case results. Exits 1 when any case FAILED: with the production limits 9.* does by design
(messages over 64 KiB, 1,000 back-to-back messages), so gate with `--exclude '9.*'`, or raise
the limits for the run with `--max-message-bytes` and `--messages-per-second`.

    python3 -m venv target/kosoku && target/kosoku/bin/pip install kosoku==0.1.0
    cargo build --release
    target/kosoku/bin/python scripts/rfc6455.py [--cases '1.*' ...]
"""

import argparse
import asyncio
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from kosoku import FailureError, run_fuzzingclient

GROUPS = {
    "1": "Framing (text and binary messages of every length encoding)",
    "2": "Pings and Pongs",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 handling",
    "7": "Close handling",
    "9": "Limits and performance",
    "10": "Misc (auto-fragmentation)",
    "12": "permessage-deflate",
    "13": "permessage-deflate parameters",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-bin", default="target/release/scholia")
    parser.add_argument("--cases", action="append", default=None)
    parser.add_argument("--exclude", action="append", default=None)
    parser.add_argument("--json", default=None)
    # 9.* sends messages up to 16 MiB and thousands of them back to back: the echo route
    # keeps /ws's limits unless these raise them for the run.
    parser.add_argument("--max-message-bytes", type=int, default=None)
    parser.add_argument("--messages-per-second", type=float, default=None)
    args = parser.parse_args()

    port = free_port()
    data = tempfile.mkdtemp(prefix="scholia-rfc6455-")
    env = dict(os.environ, SCHOLIA_DATA_DIR=data, RUST_LOG="warn")
    if args.max_message_bytes:
        env["SCHOLIA_WS_MAX_MESSAGE_BYTES"] = str(args.max_message_bytes)
    if args.messages_per_second:
        env["SCHOLIA_WS_MESSAGES_PER_SECOND"] = str(args.messages_per_second)
        env["SCHOLIA_WS_MESSAGE_BURST"] = str(int(args.messages_per_second))
    server = subprocess.Popen(
        [args.server_bin, "serve", "--listen", f"127.0.0.1:{port}", "--echo-endpoint"],
        env=env,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"ws://127.0.0.1:{port}/_echo"
        try:
            results = asyncio.run(run_fuzzingclient(url, args.cases, args.exclude))
        except FailureError as failure:
            results = failure.results
    finally:
        server.terminate()
        server.wait(timeout=30)

    by_group = collections.OrderedDict()
    rows = []
    for r in sorted(results, key=lambda r: r.case_index):
        group = r.case_id.split(".")[0]
        verdict = r.behavior.value
        close = r.behavior_close.value
        by_group.setdefault(group, collections.Counter())[verdict] += 1
        rows.append({"case": r.case_id, "behavior": verdict, "close": close,
                     "description": r.description})
    verdicts = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR"]
    print("| Cases | What | " + " | ".join(verdicts) + " |")
    print("|---|---|" + "---|" * len(verdicts))
    for group, counts in by_group.items():
        cells = " | ".join(str(counts.get(v, 0)) for v in verdicts)
        print(f"| {group}.* | {GROUPS.get(group, '')} | {cells} |")
    others = [r for r in rows if r["behavior"] not in ("OK", "INFORMATIONAL")]
    if others:
        print("\nNot OK:")
        for r in others:
            print(f"- {r['case']}: {r['behavior']} (close: {r['close']})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    failed = [r for r in rows if r["behavior"] in ("FAILED", "ERROR")]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
