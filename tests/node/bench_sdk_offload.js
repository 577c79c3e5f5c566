// The baseline of `make bench-offloader`: the offloader's job done with the official @azure/batch
// SDK (10.2.0), the way an SDK user would write it. Same requests as batch-offloader: look for the
// job, create it (onAllTasksComplete noaction), add the workers "0".."N-1" 100 per addtaskcollection
// with 8 calls in flight, then the aggregator, switch the job to terminatejob, poll task counts
// (1 s, x1.5 up to 30 s, back to 1 s on change) until every task succeeded, delete the job.
//
// The bodies are the offloader's own, taken from its --dry-run by tests/bench/bench_offloader.py:
// BODIES is a JSON file {"job": {...}, "worker": {...task "0"...}, "aggregator": {...}}.
//
//   BATCH_URL=http://127.0.0.1:PORT BATCH_ACCOUNT=name BATCH_KEY=base64 JOBID=id COMPLETIONS=N \
//   BODIES=bodies.json node tests/node/bench_sdk_offload.js
// Prints one JSON line: {"tasks", "collectionCalls", "polls", "succeeded"}.
"use strict";
const fs = require("fs");
const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");

const TASKS_PER_COLLECTION = 100;
const CHUNKS_IN_FLIGHT = 8;
const POLL_MIN_MS = 1000;
const POLL_MAX_MS = 30000;

const env = process.env;
const client = new BatchServiceClient(new BatchSharedKeyCredentials(env.BATCH_ACCOUNT, env.BATCH_KEY),
                                      env.BATCH_URL);
const jobId = env.JOBID;
const completions = Number(env.COMPLETIONS);
const bodies = JSON.parse(fs.readFileSync(env.BODIES, "utf8"));
const stats = { tasks: 0, collectionCalls: 0, polls: 0, succeeded: 0 };

function workerTask(index) {
  const id = String(index);
  const environmentSettings = bodies.worker.environmentSettings.map((setting) =>
    setting.name === "JOB_COMPLETION_INDEX" ? { name: setting.name, value: id } : setting);
  return { ...bodies.worker, id, environmentSettings };
}

// One addtaskcollection call, re-sent for the tasks that got a server error.
async function addCollection(tasks) {
  let pending = tasks;
  while (pending.length > 0) {
    stats.collectionCalls += 1;
    const result = await client.task.addCollection(jobId, pending);
    const retry = new Set();
    for (const added of result.value) {
      if (added.status === "success" || (added.error && added.error.code === "TaskExists")) {
        stats.tasks += 1;
      } else if (added.status === "servererror") {
        retry.add(added.taskId);
      } else {
        throw new Error(`task ${added.taskId} refused: ${added.error && added.error.code}`);
      }
    }
    pending = pending.filter((task) => retry.has(task.id));
  }
}

async function addWorkers() {
  let next = 0;
  async function sender() {
    while (next < completions) {
      const first = next;
      next = Math.min(completions, next + TASKS_PER_COLLECTION);
      const chunk = [];
      for (let i = first; i < next; i++) chunk.push(workerTask(i));
      await addCollection(chunk);
    }
  }
  await Promise.all(Array.from({ length: CHUNKS_IN_FLIGHT }, sender));
}

async function jobExists() {
  try {
    await client.job.get(jobId, { jobGetOptions: { select: "id,state,onAllTasksComplete,executionInfo" } });
    return true;
  } catch (error) {
    if (error.statusCode === 404) return false;
    throw error;
  }
}

function sameCounts(a, b) {
  return b && ["active", "running", "completed", "succeeded", "failed"].every((k) => a[k] === b[k]);
}

async function followProgress(total) {
  let interval = POLL_MIN_MS;
  let previous = null;
  for (;;) {
    const { taskCounts } = await client.job.getTaskCounts(jobId);
    stats.polls += 1;
    stats.succeeded = taskCounts.succeeded;
    if (taskCounts.failed > 0) throw new Error(`${taskCounts.failed} tasks failed`);
    if (taskCounts.succeeded === total) return;
    if (sameCounts(taskCounts, previous)) {
      interval = Math.min(POLL_MAX_MS, interval * 1.5);
    } else {
      previous = taskCounts;
      interval = POLL_MIN_MS;
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

async function main() {
  if (await jobExists()) throw new Error(`job ${jobId} exists already`);
  await client.job.add({ ...bodies.job, id: jobId });
  await addWorkers();
  await addCollection([bodies.aggregator]); // it depends on every worker: last, as the offloader does
  await client.job.patch(jobId, { onAllTasksComplete: "terminatejob" });
  await followProgress(completions + 1);
  await client.job.deleteMethod(jobId);
  console.log(JSON.stringify(stats));
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
