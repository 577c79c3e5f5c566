#!/usr/bin/python3
"""make bench-offloader: batch-offloader against the official @azure/batch SDK doing the same job.

Both submit and follow N worker tasks (default 10,000, images mapped to /bin/true) plus the
aggregator on the Batch emulator in the same run: the offloader, then the SDK
(tests/node/bench_sdk_offload.js, 8 addtaskcollection calls in flight, the offloader's own request
bodies from its --dry-run). Each is a child measured with os.wait4 (CPU user+sys, peak RSS) and a
wall clock; the emulator's request stats are read after each. The bar: offloader CPU <= 0.1x and
peak RSS <= 0.05x the SDK's, at most ceil(N/100)+2 addtaskcollection calls, one request per
progress poll. Rounds alternate which client goes first, so machine noise falls on both."""
import argparse
import base64
import ctypes
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMULATOR = REPO / "tests" / "batch_emulator" / "emulator.py"
SDK_SCRIPT = REPO / "tests" / "node" / "bench_sdk_offload.js"
SDK_PACKAGE = REPO / "tests" / "node" / "node_modules" / "@azure" / "batch"
PYTHON = "/usr/bin/python3"
ACCOUNT = "benchaccount"
WORKER_IMAGE = "bench/worker:1"
AGGREGATOR_IMAGE = "bench/aggregator:1"
PR_SET_CHILD_SUBREAPER = 36
# Requests a run makes besides collections and polls: get job, create job, patch job, delete job.
FIXED_REQUESTS = 4


# ----- measuring a child -----

def become_subreaper():
    """Orphaned descendants come to this process, so it can wait4() a grandchild."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


def run_measured(argv, env, log_path):
    """Runs argv to its end: (exit code, cpu seconds, peak RSS KiB, wall seconds).

    Not a direct child: on Linux exec keeps the larger of the forking process's and the new
    program's peak RSS in ru_maxrss, and this Python process alone is ~10 MiB, more than the
    offloader. So /bin/sh (well under 1 MiB) forks the program and exits; the program, orphaned,
    comes back to this subreaper, which waits for it with wait4."""
    started = time.monotonic()
    with open(log_path, "w") as log:
        launcher = subprocess.run(["/bin/sh", "-c", '"$@" >&2 & echo $!', "launch", *argv],
                                  env=env, stdout=subprocess.PIPE, stderr=log, text=True,
                                  check=True)
    _, status, usage = os.wait4(int(launcher.stdout), 0)
    wall = time.monotonic() - started
    return (os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
            wall)


# ----- the emulator -----

class Emulator:
    def __init__(self, work, key, slots):
        image_map = work / "image-map.json"
        image_map.write_text(json.dumps({"images": {
            WORKER_IMAGE: {"entrypoint": ["/bin/true"]},
            AGGREGATOR_IMAGE: {"entrypoint": ["/bin/true"]}}}))
        port_file = work / "emulator.port"
        self.log = open(work / "emulator.log", "w")
        self.process = subprocess.Popen(
            [PYTHON, str(EMULATOR), "--account", ACCOUNT, "--key", key, "--port", "0",
             "--port-file", str(port_file), "--image-map", str(image_map),
             "--work-dir", str(work / "nodes"), "--slots", str(slots)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"the emulator did not start; see {work / 'emulator.log'}")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def control(self, method, path):
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", method=method,
                                         data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# ----- the two clients -----

def offloader_env(emulator, key, job_id, completions):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    env.update(BATCHCONNECTIONSTRING=emulator.url, BATCHNAME=ACCOUNT, BATCHPASSWORD=key,
               JOBID=job_id, WORKERIMAGENAME=WORKER_IMAGE, COMPLETIONS=str(completions),
               AGGREGATORIMAGENAME=AGGREGATOR_IMAGE)
    return env


def dry_run_requests(offloader, env):
    """(request line, JSON body) of each request the offloader's --dry-run prints with a body."""
    out = subprocess.run([offloader, "--dry-run"], env=env, capture_output=True, text=True,
                         check=True).stdout
    lines = out.splitlines()
    return [(request, json.loads(body)) for request, body in zip(lines, lines[1:])
            if re.match(r"(POST|PATCH|PUT) ", request)]


def dry_run_bodies(offloader, env, completions):
    """The job body and the worker and aggregator task bodies the offloader sends for this env.
    Its dry run shows the first task collection only, so the aggregator comes from a dry run
    with 2 workers, its worker range (and worker count, if it carries one) set to N."""
    bodies = {}
    for request, body in dry_run_requests(offloader, env):
        if re.match(r"POST \S+/jobs\?", request):
            bodies["job"] = body
        elif re.match(r"POST \S+/addtaskcollection\?", request):
            bodies["worker"] = body["value"][0]
    small = dry_run_requests(offloader, {**env, "COMPLETIONS": "2"})
    aggregator = next(body for request, body in small if "/addtaskcollection?" in request)
    aggregator = aggregator["value"][-1]
    assert aggregator["dependsOn"] == {"taskIdRanges": [{"start": 0, "end": 1}]}, aggregator
    aggregator["dependsOn"]["taskIdRanges"][0]["end"] = completions - 1
    for setting in aggregator.get("environmentSettings", []):
        if setting["name"] == "BATCH_OFFLOAD_WORKER_COUNT":
            setting["value"] = str(completions)
    bodies["aggregator"] = aggregator
    assert bodies["worker"]["id"] == "0", bodies["worker"]
    assert not any("outputFiles" in bodies[t] or "resourceFiles" in bodies[t]
                   for t in ("worker", "aggregator")), "tasks carry Blob I/O: run without storage"
    return bodies


def run_offloader(args, emulator, key, job_id, work):
    log = work / f"{job_id}.log"
    code, cpu, rss, wall = run_measured([args.offloader],
                                        offloader_env(emulator, key, job_id, args.completions),
                                        log)
    text = log.read_text()
    done = re.search(r"all tasks succeeded tasks=\d+ polls=(\d+)", text)
    if code != 0 or not done:
        sys.exit(f"the offloader failed (exit {code}):\n{text[-3000:]}")
    return {"cpu": cpu, "rss_kib": rss, "wall": wall, "polls": int(done.group(1))}


def run_sdk(args, emulator, key, job_id, work, bodies_file):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    env.update(BATCH_URL=emulator.url, BATCH_ACCOUNT=ACCOUNT, BATCH_KEY=key, JOBID=job_id,
               COMPLETIONS=str(args.completions), BODIES=str(bodies_file))
    log = work / f"{job_id}.log"
    code, cpu, rss, wall = run_measured(["node", str(SDK_SCRIPT)], env, log)
    text = log.read_text()
    if code != 0:
        sys.exit(f"the SDK script failed (exit {code}):\n{text[-3000:]}")
    own = json.loads(text.strip().splitlines()[-1])
    return {"cpu": cpu, "rss_kib": rss, "wall": wall, "polls": own["polls"]}


def add_request_counts(result, stats, job_id, expected_tasks):
    operations = stats["operations"]
    result["collections"] = operations.get("Tasks_CreateTaskCollection", 0)
    result["taskcounts"] = operations.get("Jobs_GetJobTaskCounts", 0)
    result["total"] = stats["total"]
    result["other"] = result["total"] - result["collections"] - result["taskcounts"]
    result["operations"] = operations
    adds = stats["taskAdds"].get(job_id, {})
    if len(adds) != expected_tasks or stats["maxTaskAdds"] != 1:
        sys.exit(f"{job_id}: {len(adds)} tasks created (max adds {stats['maxTaskAdds']}), "
                 f"expected {expected_tasks} once each")


# ----- report -----

def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def summarize(runs):
    keys = ("cpu", "rss_kib", "wall", "collections", "taskcounts", "polls", "total", "other")
    return {k: median([r[k] for r in runs]) for k in keys}


def report(args, results):
    n = args.completions
    off, sdk = summarize(results["offloader"]), summarize(results["sdk"])
    print(f"{n} worker tasks + aggregator on the Batch emulator ({args.slots} slots, /bin/true), "
          f"median of {args.rounds} round(s)")
    print(f"{'':12}{'CPU s':>9}{'peak RSS MiB':>14}{'wall s':>9}{'collection calls':>18}"
          f"{'taskcount polls':>17}{'other requests':>16}{'total requests':>16}")
    for name, s in (("offloader", off), ("@azure/batch", sdk)):
        print(f"{name:12}{s['cpu']:9.3f}{s['rss_kib'] / 1024:14.1f}{s['wall']:9.1f}"
              f"{s['collections']:18d}{s['taskcounts']:17d}{s['other']:16d}{s['total']:16d}")
    if args.rounds > 1:
        for name in ("offloader", "sdk"):
            for what, key, scale in (("CPU s", "cpu", 1), ("RSS MiB", "rss_kib", 1 / 1024),
                                     ("wall s", "wall", 1)):
                values = [r[key] * scale for r in results[name]]
                print(f"  {name} {what} per round: " + ", ".join(f"{v:.3f}" for v in values))
    cpu_ratio = off["cpu"] / sdk["cpu"]
    rss_ratio = off["rss_kib"] / sdk["rss_kib"]
    collection_bar = math.ceil(n / 100) + 2
    one_per_poll = all(r["taskcounts"] == r["polls"] and r["other"] <= FIXED_REQUESTS
                       for r in results["offloader"])
    verdicts = [
        ("CPU offloader/SDK", f"{cpu_ratio:.3f}x", "<= 0.10x", cpu_ratio <= 0.10),
        ("peak RSS offloader/SDK", f"{rss_ratio:.3f}x", "<= 0.05x", rss_ratio <= 0.05),
        ("wall offloader/SDK", f"{off['wall'] / sdk['wall']:.2f}x", "(no bar)", True),
        ("collection calls", f"{max(r['collections'] for r in results['offloader'])}",
         f"<= {collection_bar}",
         all(r["collections"] <= collection_bar for r in results["offloader"])),
        ("requests per progress poll",
         f"{off['taskcounts']} taskcounts for {off['polls']} polls, {off['other']} others",
         f"1 per poll, {FIXED_REQUESTS} others", one_per_poll),
    ]
    for what, value, bar, ok in verdicts:
        print(f"{what:28}{value:>42}  bar {bar:28}{'PASS' if ok else 'BELOW THE BAR'}")
    print("offloader requests by operation:", json.dumps(results["offloader"][-1]["operations"],
                                                         sort_keys=True))
    print("SDK requests by operation:      ", json.dumps(results["sdk"][-1]["operations"],
                                                         sort_keys=True))
    return all(ok for *_, ok in verdicts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offloader", default=str(REPO / "build" / "openssl" / "batch-offloader"))
    parser.add_argument("--completions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--slots", type=int, default=8,
                        help="emulator task slots (8: /bin/true tasks keep both cores busy)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    args = parser.parse_args()
    if not SDK_PACKAGE.exists() or not shutil.which("node"):
        sys.exit("node or @azure/batch missing: run `make deps`")
    become_subreaper()

    work = Path(tempfile.mkdtemp(prefix="bench-offloader-"))
    key = base64.b64encode(os.urandom(32)).decode()
    emulator = Emulator(work, key, args.slots)
    try:
        bodies = dry_run_bodies(args.offloader,
                                offloader_env(emulator, key, "bench-dry-run", args.completions),
                                args.completions)
        bodies_file = work / "sdk-bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        results = {"offloader": [], "sdk": []}
        for round_number in range(1, args.rounds + 1):
            order = ["offloader", "sdk"] if round_number % 2 else ["sdk", "offloader"]
            for client in order:
                job_id = f"bench-{client}-{round_number}"
                emulator.control("POST", "stats/reset")
                if client == "offloader":
                    result = run_offloader(args, emulator, key, job_id, work)
                else:
                    result = run_sdk(args, emulator, key, job_id, work, bodies_file)
                add_request_counts(result, emulator.control("GET", "stats"), job_id,
                                   args.completions + 1)
                results[client].append(result)
                print(f"round {round_number} {client}: {result['wall']:.1f}s wall, "
                      f"{result['cpu']:.3f}s CPU, {result['rss_kib'] / 1024:.1f} MiB",
                      file=sys.stderr, flush=True)
    finally:
        emulator.stop()
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    ok = report(args, results)
    print("PASS" if ok else "BELOW THE BAR")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
