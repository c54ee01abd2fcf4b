#!/usr/bin/env python3
"""Self time per operator of a chrome trace written by `hmt bench --profile`.

Usage: trace_summary.py TRACE.json [--top N]
Events nest (an op's duration includes the ops it calls); self time is an
event's duration minus that of the events directly inside it, per thread.
"""
import json
import sys
from collections import defaultdict


def main():
    args = sys.argv[1:]
    top = 25
    if "--top" in args:
        i = args.index("--top")
        top = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    events = [e for e in json.load(open(args[0])) if e.get("ph") == "X"]
    by_thread = defaultdict(list)
    for e in events:
        by_thread[e["tid"]].append(e)
    self_time = defaultdict(float)
    calls = defaultdict(int)
    total = 0.0
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, name, child_time]
        def pop():
            end, name, child, dur = stack.pop()
            self_time[name] += dur - child
        for e in evs:
            while stack and stack[-1][0] <= e["ts"]:
                pop()
            if stack:
                stack[-1][2] += e["dur"]
            else:
                total += e["dur"]
            stack.append([e["ts"] + e["dur"], e["name"], 0.0, e["dur"]])
            calls[e["name"]] += 1
        while stack:
            pop()
    print(f"{'op':45s} {'self ms':>10s} {'share':>7s} {'calls':>7s}")
    for name, t in sorted(self_time.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{name[:45]:45s} {t / 1e3:10.1f} {100 * t / total:6.1f}% {calls[name]:7d}")
    print(f"{'total (top-level events)':45s} {total / 1e3:10.1f}")


if __name__ == "__main__":
    main()
