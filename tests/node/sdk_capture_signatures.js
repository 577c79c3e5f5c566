// Captures Shared Key signatures made by the official SDKs, as test vectors for common/shared_key.c
// (tests/unit/test_shared_key.c): @azure/batch 10.2.0 (BatchSharedKeyCredentials) and
// @azure/storage-blob (StorageSharedKeyCredential) send their requests to a local HTTP server that
// records each one as it arrived: method, path and query, every header (Authorization included).
// Keys and names are made up. The Batch requests carry a fixed ocp-date and client-request-id, so a
// re-run signs the same strings again (only unsigned headers such as user-agent, the port in Host
// and x-ms-client-request-id change); the Storage SDK always stamps the current x-ms-date.
//
//   node tests/node/sdk_capture_signatures.js      (from the repository root, after make deps)
// writes tests/fixtures/shared_key/batch_sdk_requests.json and storage_sdk_requests.json.
"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");
const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");
const { ContainerClient, StorageSharedKeyCredential } = require("@azure/storage-blob");

const OUT_DIR = path.join(__dirname, "..", "fixtures", "shared_key");
const BATCH_ACCOUNT = "sdkcaptureaccount";
const BATCH_KEY = Buffer.from("made-up Batch key for SDK signature vectors").toString("base64");
const STORAGE_ACCOUNT = "sdkcapturestorage";
const STORAGE_KEY = Buffer.from("made-up Storage key for SDK signature vectors").toString("base64");
const OCP_DATE = "Mon, 23 Nov 2026 18:00:00 GMT";

// Answers good enough for the SDKs to finish each call.
function answer(request, response) {
  const url = new URL(request.url, "http://x");
  const json = (status, body) => {
    response.writeHead(status, { "Content-Type": "application/json; odata=minimalmetadata" });
    response.end(body === undefined ? "" : JSON.stringify(body));
  };
  if (request.method === "HEAD") {
    response.writeHead(200, { "Content-Length": "11", "ocp-creation-time": OCP_DATE,
                              "ocp-batch-file-isdirectory": "False", "Last-Modified": OCP_DATE });
    return response.end();
  }
  if (url.pathname.endsWith("/taskcounts")) {
    const counts = { active: 0, running: 0, completed: 1, succeeded: 1, failed: 0 };
    return json(200, { taskCounts: counts, taskSlotCounts: counts });
  }
  if (url.pathname.endsWith("/addtaskcollection")) return json(200, { value: [{ status: "success", taskId: "0" }] });
  if (url.pathname.includes("/files/")) {
    response.writeHead(200, { "Content-Type": "application/octet-stream" });
    return response.end("stderr tail");
  }
  if (url.searchParams.get("comp") === "list") {
    response.writeHead(200, { "Content-Type": "application/xml" });
    return response.end(`<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="x" ` +
                        `ContainerName="c"><Blobs></Blobs><NextMarker/></EnumerationResults>`);
  }
  if (request.method === "PUT") {
    response.writeHead(201, { "ETag": "\"0x1\"", "Last-Modified": OCP_DATE });
    return response.end();
  }
  if (url.pathname.endsWith("/tasks")) return json(200, { value: [] });
  if (request.method === "GET") return json(200, { id: "job-1", state: "active" });
  if (request.method === "POST" && url.pathname === "/jobs") return json(201);
  if (request.method === "PATCH") return json(200);
  return json(202);
}

async function main() {
  const captured = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const headers = [];
      for (let i = 0; i < request.rawHeaders.length; i += 2) headers.push([request.rawHeaders[i], request.rawHeaders[i + 1]]);
      captured.push({ method: request.method, target: request.url, headers,
                      body: Buffer.concat(chunks).toString("utf8") });
      answer(request, response);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const take = async (name, call) => {
    const before = captured.length;
    try {
      await call();
    } catch (error) {
      // the answer is not the point; the request is
    }
    if (captured.length !== before + 1) throw new Error(`${name}: expected one request, saw ${captured.length - before}`);
    captured[before].name = name;
  };

  const batch = new BatchServiceClient(new BatchSharedKeyCredentials(BATCH_ACCOUNT, BATCH_KEY), base);
  let requestNumber = 0;
  const fixed = () => ({ ocpDate: new Date(OCP_DATE),
                         clientRequestId: `00000000-0000-4000-8000-${String(++requestNumber).padStart(12, "0")}` });
  await take("get job", () => batch.job.get("job-1", { jobGetOptions: fixed() }));
  await take("get job with $select", () => batch.job.get("job-1", {
    jobGetOptions: { ...fixed(), select: "id,state,onAllTasksComplete,executionInfo" } }));
  await take("create job", () => batch.job.add({
    id: "job-1", displayName: "team-a/wordcount ünï", usesTaskDependencies: true, onAllTasksComplete: "noaction",
    poolInfo: { poolId: "pool-1" }, commonEnvironmentSettings: [{ name: "GREETING", value: "hello world" }],
  }, { jobAddOptions: fixed() }));
  await take("terminate job without a body", () => batch.job.terminate("job-1", { jobTerminateOptions: fixed() }));
  await take("terminate job with a reason", () => batch.job.terminate("job-1", {
    terminateReason: "batch-offload: the Kubernetes Job was stopped", jobTerminateOptions: fixed() }));
  await take("list failed tasks with $filter and $select", () => batch.task.list("job-1", { taskListOptions: {
    ...fixed(), filter: "executionInfo/result eq 'failure'", select: "id,executionInfo", maxResults: 100 } }));
  await take("list task ids", () => batch.task.list("job-1", { taskListOptions: {
    ...fixed(), select: "id", maxResults: 1000 } }));
  await take("get task counts", () => batch.job.getTaskCounts("job-1", { jobGetTaskCountsOptions: fixed() }));
  await take("delete job", () => batch.job.deleteMethod("job-1", { jobDeleteMethodOptions: fixed() }));
  await take("patch job", () => batch.job.patch("job-1", { onAllTasksComplete: "terminatejob" },
                                                { jobPatchOptions: fixed() }));
  await take("add task collection", () => batch.task.addCollection("job-1", [
    { id: "0", commandLine: "'with space' \"$(A)\"", environmentSettings: [{ name: "JOB_COMPLETION_INDEX", value: "0" }] },
  ], { taskAddCollectionOptions: fixed() }));
  await take("get task file range", () => batch.file.getFromTask("job-1", "0", "stderr.txt", {
    fileGetFromTaskOptions: { ...fixed(), ocpRange: "bytes=100-2147" } }));
  await take("head task file", () => batch.file.getPropertiesFromTask("job-1", "0", "stderr.txt", {
    fileGetPropertiesFromTaskOptions: fixed() }));
  const batchRequests = captured.splice(0);

  const credential = new StorageSharedKeyCredential(STORAGE_ACCOUNT, STORAGE_KEY);
  const container = new ContainerClient(`${base}/${STORAGE_ACCOUNT}/job-data`, credential);
  await take("list blobs", () => container.listBlobsFlat({ prefix: "team-a/job 1/input/" }).byPage({ maxPageSize: 50 }).next());
  await take("list blobs without a prefix", () => container.listBlobsFlat().byPage().next());
  await take("put blob with metadata", () => container.getBlockBlobClient("team-a/job 1/output/0/result ü.txt").upload(
    "hello", 5, { metadata: { a0: "digit", a_b: "underscore", Zed: "upper" },
                  blobHTTPHeaders: { blobContentType: "text/plain; charset=utf-8" } }));
  await take("put empty blob", () => container.getBlockBlobClient("empty").upload("", 0));
  const storageRequests = captured.splice(0);
  server.close();

  fs.mkdirSync(OUT_DIR, { recursive: true });
  const write = (file, document) => fs.writeFileSync(path.join(OUT_DIR, file), JSON.stringify(document, null, 2) + "\n");
  write("batch_sdk_requests.json", {
    source: "@azure/batch 10.2.0 BatchSharedKeyCredentials, captured by tests/node/sdk_capture_signatures.js",
    account: BATCH_ACCOUNT, key: BATCH_KEY, requests: batchRequests });
  write("storage_sdk_requests.json", {
    source: "@azure/storage-blob " + require("@azure/storage-blob/package.json").version +
            " StorageSharedKeyCredential, captured by tests/node/sdk_capture_signatures.js",
    account: STORAGE_ACCOUNT, key: STORAGE_KEY, requests: storageRequests });
  console.log(`captured ${batchRequests.length} Batch and ${storageRequests.length} Storage requests in ${OUT_DIR}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
