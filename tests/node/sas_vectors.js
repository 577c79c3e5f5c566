// Makes tests/fixtures/sas/storage_blob_sdk_sas.json: service SAS query
// strings signed by the official @azure/storage-blob SDK
// (generateBlobSASQueryParameters) for fixed, made-up inputs. The C unit test
// tests/unit/test_sas.c signs the same inputs and must get the same fields.
// Rerun: node tests/node/sas_vectors.js
"use strict";
const fs = require("fs");
const path = require("path");
const {
  StorageSharedKeyCredential, generateBlobSASQueryParameters, BlobSASPermissions,
  ContainerSASPermissions, SASProtocol,
} = require("@azure/storage-blob");

// A made-up account and key, for these vectors only.
const account = "examplestorage";
const key = Buffer.from("made-up key for SAS test vectors, not a secret!!").toString("base64");
const credential = new StorageSharedKeyCredential(account, key);
const start = new Date(Date.UTC(2026, 10, 23, 17, 45, 0));
const expiry = new Date(Date.UTC(2026, 10, 24, 18, 0, 0));

const cases = [
  { name: "container read+list, https", container: "batch-offload", permissions: "rl", https: true },
  { name: "container create+write, https", container: "batch-offload", permissions: "cw", https: true },
  { name: "container read+list, https and http", container: "data-1", permissions: "rl", https: false },
  { name: "blob read", container: "data-1", blob: "team/job-1/input/a b.txt", permissions: "r", https: true },
  { name: "container without start", container: "batch-offload", permissions: "cw", https: true, noStart: true },
];

// A made-up user delegation key, as Get User Delegation Key returns one.
const delegationKey = {
  signedObjectId: "11111111-2222-3333-4444-555555555555",
  signedTenantId: "66666666-7777-8888-9999-000000000000",
  signedStartsOn: new Date(Date.UTC(2026, 10, 23, 17, 0, 0)),
  signedExpiresOn: new Date(Date.UTC(2026, 10, 25, 17, 0, 0)),
  signedService: "b",
  signedVersion: "2022-11-02",
  value: Buffer.from("made-up delegation key for the SAS vectors!!").toString("base64"),
};
cases.push(
  { name: "user delegation, container read+list", container: "batch-offload", permissions: "rl", https: true, delegation: true },
  { name: "user delegation, container create+write, http", container: "data-1", permissions: "cw", https: false, delegation: true },
);

const vectors = cases.map((c) => {
  const values = {
    containerName: c.container,
    permissions: c.blob ? BlobSASPermissions.parse(c.permissions) : ContainerSASPermissions.parse(c.permissions),
    expiresOn: expiry,
    protocol: c.https ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
    version: "2022-11-02",
  };
  if (!c.noStart) values.startsOn = start;
  if (c.blob) values.blobName = c.blob;
  const query = (c.delegation
    ? generateBlobSASQueryParameters(values, delegationKey, account)
    : generateBlobSASQueryParameters(values, credential)).toString();
  return {
    name: c.name, container: c.container, blob: c.blob || null, permissions: c.permissions,
    start: c.noStart ? 0 : start.getTime() / 1000, expiry: expiry.getTime() / 1000,
    allowHttp: !c.https, delegation: !!c.delegation, query,
  };
});

const out = path.join(__dirname, "..", "fixtures", "sas", "storage_blob_sdk_sas.json");
fs.writeFileSync(out, JSON.stringify({
  generator: "tests/node/sas_vectors.js with @azure/storage-blob " +
    require("@azure/storage-blob/package.json").version,
  account, key,
  delegationKey: { ...delegationKey, signedStartsOn: "2026-11-23T17:00:00Z", signedExpiresOn: "2026-11-25T17:00:00Z" },
  vectors,
}, null, 2) + "\n");
console.log(`wrote ${vectors.length} vectors to ${out}`);
