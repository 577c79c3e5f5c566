#!/usr/bin/python3
"""Stands in for a container image in the offloader tests (the Batch emulator's image map points
images at it). It prints what it was started with as one JSON line on stdout: argv (without the
interpreter and this script), cwd, task id and every environment variable but the emulator's own
AZ_BATCH_*; then it behaves as PROBE_* variables in its environment ask:

  PROBE_FAIL_TASKS=3,aggregator   these tasks exit with PROBE_FAIL_CODE (default 3) after writing
                                  PROBE_STDERR_LINES filler lines (default 200) and a last line
                                  "probe-last-line task=<id>" to stderr
  PROBE_FAIL_CODES=1:42,2:7       ... each with its own exit code (others: PROBE_FAIL_CODE)
  PROBE_FAIL_ONCE_DIR=/dir        ... but only on their first attempt (a marker file in /dir says
                                  the attempt happened)
  PROBE_SLEEP_SECONDS=S           every task sleeps S seconds before exiting
  PROBE_SLEEP_TASKS=0,1:4         ... only these tasks sleep (1 for 4 seconds instead)
  PROBE_STARTED_DIR=/dir          a file <dir>/<job>.<task>.<pid> tells the test a task started
"""
import json
import os
import sys
import time


def items(variable):
    """"a,b:4" -> {"a": None, "b": "4"}"""
    found = {}
    for item in os.environ.get(variable, "").split(","):
        name, _, value = item.strip().partition(":")
        if name:
            found[name] = value or None
    return found


def listed(variable, task_id):
    return task_id in items(variable)


def main():
    task_id = os.environ.get("AZ_BATCH_TASK_ID", "")
    job_id = os.environ.get("AZ_BATCH_JOB_ID", "")
    report = {"argv": sys.argv[1:], "cwd": os.getcwd(), "task": task_id,
              "env": {name: value for name, value in os.environ.items() if not name.startswith("AZ_BATCH_")}}
    print(json.dumps(report, ensure_ascii=False), flush=True)

    started_dir = os.environ.get("PROBE_STARTED_DIR")
    if started_dir:
        with open(os.path.join(started_dir, f"{job_id}.{task_id}.{os.getpid()}"), "w"):
            pass

    sleep_seconds = float(items("PROBE_SLEEP_TASKS").get(task_id) or os.environ.get("PROBE_SLEEP_SECONDS", "0"))
    if sleep_seconds and (not os.environ.get("PROBE_SLEEP_TASKS") or listed("PROBE_SLEEP_TASKS", task_id)):
        time.sleep(sleep_seconds)

    if listed("PROBE_FAIL_TASKS", task_id):
        once_dir = os.environ.get("PROBE_FAIL_ONCE_DIR")
        if once_dir:
            marker = os.path.join(once_dir, f"{job_id}.{task_id}.failed-once")
            if os.path.exists(marker):
                return 0
            with open(marker, "w"):
                pass
        for number in range(int(os.environ.get("PROBE_STDERR_LINES", "200"))):
            print(f"probe filler line {number:04d} of task {task_id}", file=sys.stderr)
        print(f"probe-last-line task={task_id}", file=sys.stderr, flush=True)
        return int(items("PROBE_FAIL_CODES").get(task_id) or os.environ.get("PROBE_FAIL_CODE", "3"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
