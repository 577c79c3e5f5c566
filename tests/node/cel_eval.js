// Evaluates CEL expressions with @bufbuild/cel (a conformance-tested CEL implementation, pinned in
// package.json), the way kube-apiserver evaluates a webhook's matchConditions: each binding (for
// matchConditions `object`, `oldObject`, `request`) is the JSON the API server has, converted as
// Kubernetes converts unstructured objects (JSON objects are CEL maps, integers are int).
//
// Reads one JSON document on stdin: {"cases": [{"expression": "...", "bindings": {...}}, ...]}
// Prints one JSON array, one entry per case: {"value": <result>} or {"error": "<message>"}.
// tests/integration/test_chart_cel.py drives it with the chart's rendered expression.
//
//   echo '{"cases":[{"expression":"has(object.a)","bindings":{"object":{}}}]}' | node tests/node/cel_eval.js
"use strict";
const { run, isCelError } = require("@bufbuild/cel");

function toCel(value) {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value).map(([key, item]) => [key, toCel(item)]));
  }
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  return value;
}

function fromCel(value) {
  if (typeof value === "boolean" || typeof value === "string" || value === null) return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return value;
  return String(value);
}

function evaluate({ expression, bindings }) {
  const cel = Object.fromEntries(Object.entries(bindings || {}).map(([name, value]) => [name, toCel(value)]));
  const result = run(expression, cel);
  return isCelError(result) ? { error: result.message } : { value: fromCel(result) };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const { cases } = JSON.parse(input);
  process.stdout.write(JSON.stringify(cases.map(evaluate)) + "\n");
});
