// Drives the emulator's Entra ID endpoints with the official clients: @azure/identity 3.4.2 (MSAL Node
// 2.16.3) gets tokens with a client secret, a workload identity token file and a managed identity
// (IMDS at AZURE_POD_IDENTITY_AUTHORITY_HOST), and reads a refusal; @azure/batch 10.2.0 then sends them
// as Bearer tokens. Prints one JSON object with what each step observed;
// tests/integration/test_emulator_entra.py asserts on it.
//
//   BATCH_URL=https://127.0.0.1:PORT NODE_EXTRA_CA_CERTS=ca.pem ENTRA_TENANT=... SECRET_CLIENT=...
//   CLIENT_SECRET=... WORKLOAD_CLIENT=... FEDERATED_TOKEN_FILE=... node tests/node/entra_fidelity.js
"use strict";
const { ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential } = require("@azure/identity");
const { BatchServiceClient } = require("@azure/batch");
const { TokenCredentials } = require("@azure/ms-rest-js");

const url = process.env.BATCH_URL;
const tenantId = process.env.ENTRA_TENANT;
const BATCH_SCOPE = "https://batch.core.windows.net//.default";
const STORAGE_SCOPE = "https://storage.azure.com/.default";
// The emulator is the authority: no instance discovery against login.microsoftonline.com.
const authority = { authorityHost: url, disableInstanceDiscovery: true };

function claims(token) {
  const { aud, appid } = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  return { aud, appid };
}

async function tokenReport(credential, scope) {
  const token = await credential.getToken(scope);
  return { ...claims(token.token), lifetimeSeconds: Math.round((token.expiresOnTimestamp - Date.now()) / 1000) };
}

async function batchFailure(call) {
  try {
    await call();
    return { succeeded: true };
  } catch (error) {
    return { statusCode: error.statusCode, code: error.code,
             detail: error.body && error.body.values && error.body.values[0].value };
  }
}

async function main() {
  const report = {};
  const secret = new ClientSecretCredential(tenantId, process.env.SECRET_CLIENT, process.env.CLIENT_SECRET, authority);
  report.clientSecret = await tokenReport(secret, BATCH_SCOPE);
  const workload = new WorkloadIdentityCredential({ tenantId, clientId: process.env.WORKLOAD_CLIENT,
                                                    tokenFilePath: process.env.FEDERATED_TOKEN_FILE, ...authority });
  report.workloadIdentity = await tokenReport(workload, STORAGE_SCOPE);
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = url;
  report.managedIdentity = await tokenReport(new ManagedIdentityCredential(), BATCH_SCOPE);
  try {
    await new ClientSecretCredential(tenantId, process.env.SECRET_CLIENT, "wrong", authority).getToken(BATCH_SCOPE);
    report.badSecret = { succeeded: true };
  } catch (error) {
    report.badSecret = { name: error.name, message: error.message.split("\n")[0] };
  }

  // @azure/batch 10.2.0 hands a TokenCredential the Resource Manager scope: Batch refuses that token.
  report.batchDefaultScope = await batchFailure(() => new BatchServiceClient(secret, url).job.list().then((jobs) => jobs));
  // Asking for the Batch scope, the same credential works.
  const batchScoped = { getToken: () => workload.getToken(BATCH_SCOPE) };
  const client = new BatchServiceClient(batchScoped, url);
  await client.pool.add({ id: "entra-pool", vmSize: "standard_d2s_v3", targetDedicatedNodes: 1,
                          virtualMachineConfiguration: { imageReference: { publisher: "microsoft-dsvm",
                            offer: "ubuntu-hpc", sku: "2204", version: "latest" },
                                                         nodeAgentSKUId: "batch.node.ubuntu 22.04" } });
  await client.job.add({ id: "entra-job", poolInfo: { poolId: "entra-pool" } });
  report.batchScoped = { state: (await client.job.get("entra-job")).state };
  // A plain access token (ms-rest-js TokenCredentials), as a client that fetched it itself sends it.
  const fixed = new BatchServiceClient(new TokenCredentials((await secret.getToken(BATCH_SCOPE)).token), url);
  report.batchStaticToken = { jobs: (await fixed.job.list()).map((job) => job.id) };
  const storageToken = (await secret.getToken(STORAGE_SCOPE)).token;
  report.batchStorageToken = await batchFailure(() => new BatchServiceClient(new TokenCredentials(storageToken), url)
    .job.get("entra-job"));
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
