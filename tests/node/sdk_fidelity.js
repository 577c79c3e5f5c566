// Drives the Batch emulator with the official @azure/batch SDK (10.2.0, api-version 2022-10-01.16.0):
// if the SDK's own signing, serialization, deserialization, error mapping and throttling retry work
// against the emulator, the emulator speaks the service's protocol. Prints one JSON object with what
// each step observed; tests/batch_emulator/tests/test_emulator_sdk.py asserts on it.
//
//   BATCH_URL=http://127.0.0.1:PORT BATCH_ACCOUNT=name BATCH_KEY=base64 node tests/node/sdk_fidelity.js
"use strict";
const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");

const url = process.env.BATCH_URL;
const account = process.env.BATCH_ACCOUNT;
const key = process.env.BATCH_KEY;
const client = new BatchServiceClient(new BatchSharedKeyCredentials(account, key), url);
const JOB = "sdk-job";
const POOL = "sdk-pool";
const WORKERS = 100;

async function control(path, body) {
  const response = await fetch(`${url}/_emulator/${path}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}),
  });
  return response.json();
}

async function failure(call) {
  try {
    await call();
    return { succeeded: true };
  } catch (error) {
    const message = error.body && error.body.message;
    return { statusCode: error.statusCode, code: error.code, lang: message && message.lang,
             message: message && message.value.split("\n")[0],
             retryAfter: error.response && error.response.headers.get("retry-after") };
  }
}

async function until(probe, what, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function listAll(firstPage, operations = client.task) {
  const items = [];
  let page = await firstPage;
  items.push(...page);
  let pages = 1;
  while (page.odatanextLink) {
    page = await operations.listNext(page.odatanextLink);
    items.push(...page);
    pages += 1;
  }
  return { items, pages };
}

async function main() {
  const seen = {};

  const pool = await client.pool.add({
    id: POOL, vmSize: "standard_d2s_v3", targetDedicatedNodes: 1,
    virtualMachineConfiguration: {
      imageReference: { publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2204", version: "latest" },
      nodeAgentSKUId: "batch.node.ubuntu 22.04",
    },
  });
  seen.createPool = { status: pool._response.status };
  seen.poolExists = (await client.pool.exists(POOL)).body;
  seen.getPool = { vmSize: (await client.pool.get(POOL)).vmSize };

  const job = await client.job.add({ id: JOB, poolInfo: { poolId: POOL }, usesTaskDependencies: true });
  seen.createJob = { status: job._response.status, etag: Boolean(job.eTag), location: job.dataServiceId };
  const gotJob = await client.job.get(JOB);
  seen.getJob = { state: gotJob.state, usesTaskDependencies: gotJob.usesTaskDependencies,
                  creationTimeIsDate: gotJob.creationTime instanceof Date };

  const single = await client.task.add(JOB, { id: "single", commandLine: "/bin/sh -c 'echo hello from sdk'" });
  seen.addTask = { status: single._response.status };

  const workers = Array.from({ length: WORKERS }, (_, i) => ({ id: String(i), commandLine: "/bin/true" }));
  const added = await client.task.addCollection(JOB, workers);
  seen.addCollection = { successes: added.value.filter((r) => r.status === "success").length };
  await client.task.add(JOB, { id: "aggregate", commandLine: "/bin/true",
                               dependsOn: { taskIdRanges: [{ start: 0, end: WORKERS - 1 }] } });
  const again = await client.task.addCollection(JOB, workers.slice(0, 2));
  seen.addCollectionAgain = again.value.map((r) => ({ status: r.status, code: r.error && r.error.code }));

  await until(async () => (await client.job.getTaskCounts(JOB)).taskCounts.completed === WORKERS + 2,
              "every task to complete");
  const counts = await client.job.getTaskCounts(JOB);
  seen.taskCounts = { taskCounts: counts.taskCounts, taskSlotCounts: counts.taskSlotCounts };

  const listed = await listAll(client.task.list(JOB, {
    taskListOptions: { filter: "state eq 'completed'", select: "id,state,executionInfo", maxResults: 40 } }));
  seen.listTasks = { count: listed.items.length, pages: listed.pages,
                     keys: Object.keys(listed.items[0]).sort(),
                     allSucceeded: listed.items.every((t) => t.executionInfo.result === "success") };

  const aggregate = await client.task.get(JOB, "aggregate");
  const lastWorkerEnd = Math.max(...listed.items.filter((t) => /^\d+$/.test(t.id))
    .map((t) => t.executionInfo.endTime.getTime()));
  seen.aggregate = { result: aggregate.executionInfo.result, exitCode: aggregate.executionInfo.exitCode,
                     startedAfterWorkers: aggregate.executionInfo.startTime.getTime() >= lastWorkerEnd };

  const file = await client.file.getFromTask(JOB, "single", "stdout.txt");
  seen.getFile = { text: await readAll(file.readableStreamBody) };
  const properties = await client.file.getPropertiesFromTask(JOB, "single", "stdout.txt");
  seen.getFileProperties = { contentLength: Number(properties.contentLength), isDirectory: properties.ocpBatchFileIsdirectory };

  seen.jobExists = await failure(() => client.job.add({ id: JOB, poolInfo: { poolId: POOL } }));
  seen.jobNotFound = await failure(() => client.job.get("no-such-job"));
  const badKey = Buffer.from("this is not the account key at all").toString("base64");
  const stranger = new BatchServiceClient(new BatchSharedKeyCredentials(account, badKey), url);
  seen.badKey = await failure(() => stranger.job.get(JOB));

  // Throttling. In @azure/batch 10.2.0 (ms-rest-js 2.7.0) the deserialization policy turns a 429 into a
  // RestError before the throttling policy sees a response, so operations surface the 429 unretried;
  // a raw request through the same pipeline (signing included) shows the policy honouring Retry-After.
  await control("faults", { status: 429, count: 1, retryAfter: 1, operations: ["Jobs_GetJob"] });
  seen.throttledOperation = await failure(() => client.job.get(JOB));
  await control("stats/reset");
  await control("faults", { status: 429, count: 2, retryAfter: 1, operations: ["Jobs_GetJob"] });
  const started = Date.now();
  const raw = await client.sendRequest({ method: "GET", url: `${url}/jobs/${JOB}?api-version=${client.apiVersion}` });
  const stats = await (await fetch(`${url}/_emulator/stats`)).json();
  seen.throttledRaw = { status: raw.status, state: raw.parsedBody.state, getJobRequests: stats.operations.Jobs_GetJob,
                        waitedMs: Date.now() - started };

  // Disable and enable (what the offloader does when its Kubernetes Job is suspended and resumed).
  const jobState = (state) => until(async () => {
    const current = await client.job.get(JOB);
    return current.state === state && current;
  }, `the job to become ${state}`);
  const disabled = await client.job.disable(JOB, "requeue");
  const disabledJob = await jobState("disabled");
  seen.disable = { status: disabled._response.status, previousState: disabledJob.previousState };
  seen.disableAgain = { status: (await client.job.disable(JOB, "wait"))._response.status };
  const enabled = await client.job.enable(JOB);
  const enabledJob = await jobState("active");
  seen.enable = { status: enabled._response.status, previousState: enabledJob.previousState };
  seen.enableActive = await failure(() => client.job.enable(JOB));

  // Metadata and listing the account's jobs, as the gc mode does.
  for (let i = 0; i < 5; i++) {
    await client.job.add({ id: `sdk-meta-${i}`, poolInfo: { poolId: POOL },
                           metadata: [{ name: "batch-offload.io/job-uid", value: `uid-${i}` }] });
  }
  await client.job.patch("sdk-meta-4", { metadata: [{ name: "batch-offload.io/job-uid", value: "patched" }] });
  const jobs = await listAll(client.job.list({ jobListOptions: {
    filter: "startswith(id,'sdk-meta-') and state eq 'active'", select: "id,state,metadata", maxResults: 2 } }),
  client.job);
  seen.listJobs = { ids: jobs.items.map((j) => j.id), pages: jobs.pages,
                    uids: jobs.items.map((j) => j.metadata[0].value) };
  seen.unfilterable = await failure(() => client.job.list({ jobListOptions: { filter: "metadata eq 'x'" } }));

  // The images the account offers, for the offloader's pre-flight check of an auto pool.
  const images = await listAll(client.account.listSupportedImages({ accountListSupportedImagesOptions: {
    filter: "verificationType eq 'verified'" } }), { listNext: (link) => client.account.listSupportedImagesNext(link) });
  seen.supportedImages = images.items.map((i) => ({
    image: `${i.imageReference.publisher}:${i.imageReference.offer}:${i.imageReference.sku}`,
    nodeAgentSKUId: i.nodeAgentSKUId, capabilities: i.capabilities || [],
    endOfLifeIsDate: i.batchSupportEndOfLife === undefined || i.batchSupportEndOfLife instanceof Date }));

  const terminated = await client.job.terminate(JOB, { terminateReason: "stopped by the SDK" });
  const completedJob = await until(async () => {
    const current = await client.job.get(JOB);
    return current.state === "completed" && current;
  }, "the job to complete");
  seen.terminate = { status: terminated._response.status,
                     terminateReason: completedJob.executionInfo.terminateReason };

  const deleted = await client.job.deleteMethod(JOB);
  const gone = await until(async () => {
    const result = await failure(() => client.job.get(JOB));
    return result.code === "JobNotFound" && result;
  }, "the job to be deleted");
  seen.deleteJob = { status: deleted._response.status, afterwards: gone.code };

  process.stdout.write(JSON.stringify(seen) + "\n");
}

main().catch((error) => {
  process.stderr.write(`sdk_fidelity failed: ${error.stack || error}\n`);
  process.exit(1);
});
