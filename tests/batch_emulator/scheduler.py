# The emulated pool's capacity: --slots nodes, each running one task attempt at a time and pulling
# the next runnable task from the account as soon as it is free; plus one housekeeping thread for
# what the service does on its own clock (job maxWallClockTime, finishing job deletions).
import itertools
import os
import shutil
import sys
import threading
import time
import traceback

from node import Attempt, AttemptOutcome
from task_failure import failure_info

HOUSEKEEPING_INTERVAL_SECONDS = 0.05
STOP_WAIT_SECONDS = 10


class Scheduler:
    def __init__(self, account, nodes):
        self.account = account
        self.nodes = nodes
        self._stopping = False
        self._threads = []
        self._discard_numbers = itertools.count()

    def start(self):
        for node in self.nodes:
            self._threads.append(threading.Thread(target=self._serve, args=(node,), name=node.node_id, daemon=True))
        self._threads.append(threading.Thread(target=self._housekeep, name="housekeeping", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self):
        """Kills every running task process and waits for the nodes to notice."""
        with self.account.changed:
            self._stopping = True
            discarded = self._discard_job_dirs(self.account.reset())
        self._remove(discarded)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def reset(self):
        """Forgets every job and pool (their running processes are killed) and their task directories."""
        with self.account.changed:
            discarded = self._discard_job_dirs(self.account.reset())
        self._remove(discarded)

    def _serve(self, node):
        changed = self.account.changed
        while True:
            with changed:
                claimed = None
                while not self._stopping and claimed is None:
                    claimed = self.account.claim_next(node)
                    if claimed is None:
                        changed.wait()
                if self._stopping:
                    return
                task, plan = claimed
                attempt = task.attempt = Attempt()
            try:
                outcome = node.run(plan, attempt)
            except Exception as problem:        # a bug in the emulator must not take the node down
                traceback.print_exc(file=sys.stderr)
                outcome = AttemptOutcome(failure_kind="preprocessing", failure_info={
                    **failure_info("InternalError", f"The emulated node failed: {problem}"), "category": "servererror"})
            with changed:
                self.account.finish_attempt(task, outcome)

    def _housekeep(self):
        changed = self.account.changed
        while True:
            with changed:
                changed.wait(HOUSEKEEPING_INTERVAL_SECONDS)
                if self._stopping:
                    return
                self.account.enforce_job_deadlines()
                self.account.settle_jobs()
                self.account.remove_deleted_pools()
                discarded = self._discard_job_dirs(self.account.remove_deleted_jobs())
            self._remove(discarded)

    def _discard_job_dirs(self, job_ids):
        """Moves the forgotten jobs' directories aside (quick, under the lock, so a new job with the same id
        starts clean); returns the moved paths for removal outside the lock."""
        discarded = []
        for job_id in job_ids:
            for node in self.nodes:
                target = f"{node.job_dir(job_id)}.deleted-{next(self._discard_numbers)}"
                try:
                    os.rename(node.job_dir(job_id), target)
                    discarded.append(target)
                except FileNotFoundError:
                    pass
        return discarded

    @staticmethod
    def _remove(paths):
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
