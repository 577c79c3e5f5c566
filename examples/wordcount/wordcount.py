#!/usr/bin/env python3
"""The word-count example's container program, in two roles:

  wordcount.py count [--min-length N]   a worker: counts the words of its shard
  wordcount.py sum [--top N]            the aggregator: adds the workers' counts

On Azure Batch, batch-offload gives every task BATCH_OFFLOAD_INPUT_DIR (its
inputs, downloaded), BATCH_OFFLOAD_OUTPUT_DIR (what it leaves there is
uploaded), BATCH_OFFLOAD_WORKER_COUNT, and each worker JOB_COMPLETION_INDEX.
A worker takes every Nth input file starting at its index; its counts go to
counts.json. The aggregator finds every worker's counts.json among its inputs
and writes the totals and the top words.

WORDCOUNT_FAIL_INDEX=<i> makes worker i fail, for trying out failures."""
import argparse
import collections
import json
import os
import re
import sys
from pathlib import Path

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str, min_length: int):
    return [w for w in WORD.findall(text.lower()) if len(w) >= min_length]


def count(args) -> int:
    index = int(os.environ["JOB_COMPLETION_INDEX"])
    workers = int(os.environ["BATCH_OFFLOAD_WORKER_COUNT"])
    if os.environ.get("WORDCOUNT_FAIL_INDEX") == str(index):
        print(f"worker {index}: failing on purpose (WORDCOUNT_FAIL_INDEX)", file=sys.stderr)
        return 3
    inputs = Path(os.environ["BATCH_OFFLOAD_INPUT_DIR"])
    files = sorted(p for p in inputs.rglob("*") if p.is_file())
    mine = files[index::workers]
    counts = collections.Counter()
    for path in mine:
        counts.update(words(path.read_text(errors="replace"), args.min_length))
    out = Path(os.environ["BATCH_OFFLOAD_OUTPUT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "counts.json").write_text(json.dumps(
        {"worker": index, "files": [str(p.relative_to(inputs)) for p in mine],
         "counts": dict(counts)}, sort_keys=True))
    print(f"worker {index} of {workers}: {len(mine)} files, {sum(counts.values())} words, "
          f"{len(counts)} distinct")
    return 0


def total(args) -> int:
    inputs = Path(os.environ["BATCH_OFFLOAD_INPUT_DIR"])
    totals = collections.Counter()
    parts = sorted(inputs.rglob("counts.json"))
    for part in parts:
        totals.update(json.loads(part.read_text())["counts"])
    expected = int(os.environ["BATCH_OFFLOAD_WORKER_COUNT"])
    if len(parts) != expected:
        print(f"aggregator: found {len(parts)} worker results, expected {expected}",
              file=sys.stderr)
        return 1
    out = Path(os.environ["BATCH_OFFLOAD_OUTPUT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "counts.json").write_text(json.dumps(dict(totals), sort_keys=True))
    top = totals.most_common(args.top)
    (out / "top.txt").write_text("".join(f"{n:7d} {w}\n" for w, n in top))
    print(f"aggregator: {len(parts)} workers, {sum(totals.values())} words, "
          f"{len(totals)} distinct; top {args.top}:")
    for w, n in top:
        print(f"{n:7d} {w}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="the word-count example's two roles")
    roles = parser.add_subparsers(dest="role", required=True)
    worker = roles.add_parser("count", help="a worker: count the words of this task's shard")
    worker.add_argument("--min-length", type=int, default=1)
    aggregator = roles.add_parser("sum", help="the aggregator: add up the workers' counts")
    aggregator.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    return count(args) if args.role == "count" else total(args)


if __name__ == "__main__":
    sys.exit(main())
