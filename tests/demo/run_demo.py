#!/usr/bin/python3
"""make demo: a map-reduce word count offloaded end to end, on this machine.

It starts what a cluster and Azure would provide (the webhook with fresh
certificates, Azurite for Blob storage, the Batch REST emulator), uploads a
text corpus, sends the annotated Job in examples/wordcount/job.yaml through
the webhook as the API server would, runs the offloader with the rewritten
pod's environment, and prints the top words read back from storage. Every
process it starts is stopped before it exits."""
import argparse
import collections
import json
import shutil
import sys
import tempfile
from pathlib import Path

from offload_pipeline import DEFAULT_CONTAINER, LocalPlatform
from repo_paths import REPO_ROOT
from wordcount import words

CORPUS = Path("/usr/share/common-licenses")  # Debian's base-files: on every machine
MANIFEST = REPO_ROOT / "examples" / "wordcount" / "job.yaml"
MIN_LENGTH = 4  # the Job's MIN_WORD_LENGTH


def say(text=""):
    print(text, flush=True)


def corpus_parts(lines_per_part: int = 400) -> dict:
    """The corpus as input blobs of a few hundred lines each."""
    parts = {}
    for source in sorted(p for p in CORPUS.iterdir() if p.is_file()):
        lines = source.read_text(errors="replace").splitlines(keepends=True)
        for start in range(0, len(lines), lines_per_part):
            name = f"input/{source.name}-{start // lines_per_part:03d}.txt"
            parts[name] = "".join(lines[start:start + lines_per_part]).encode()
    return parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(REPO_ROOT / "build" / "openssl"),
                        help="where offload-webhook and batch-offloader were built")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="batch-offload-demo-"))
    say("== starting the webhook (TLS), Azurite (Blob storage) and the Batch emulator")
    platform = LocalPlatform(work, Path(args.build))
    try:
        parts = corpus_parts()
        prefix = "demo/wordcount"  # <namespace>/<job name>: the default BLOBPREFIX
        platform.upload(prefix, parts)
        say(f"   uploaded {len(parts)} input files from {CORPUS} to "
            f"{DEFAULT_CONTAINER}/{prefix}/input/")

        say(f"\n== kubectl apply -f {MANIFEST.relative_to(REPO_ROOT)}  (sent through the webhook as "
            "the API server would)")
        job = platform.job_from_manifest(MANIFEST)
        response, stored = platform.admit(job)
        if not response.get("allowed"):
            say(f"   denied: {response['status']['message']}")
            return 1
        for warning in response.get("warnings", []):
            say(f"   Warning: {warning}")
        container = stored["spec"]["template"]["spec"]["containers"][0]
        say(f"   the Job is now one offloader pod: image {container['image']}, completions "
            f"{stored['spec']['completions']}; its configuration:")
        for entry in container["env"]:
            if "value" in entry and entry["name"] != "WORKERSPEC":
                say(f"     {entry['name']}={entry['value']}")
            elif "secretKeyRef" in entry.get("valueFrom", {}):
                ref = entry["valueFrom"]["secretKeyRef"]
                say(f"     {entry['name']} from Secret {ref['name']} key {ref['key']}")
        for source in container.get("envFrom", []):
            if "secretRef" in source and "prefix" not in source:
                say(f"     credentials (BATCHNAME, BATCHPASSWORD, STORAGEKEY, ...) from Secret "
                    f"{source['secretRef']['name']}")

        say("\n== the offloader pod runs (its output is what kubectl logs shows)")
        env = platform.offloader_env(stored)
        code, _ = platform.run_offloader(env, on_line=lambda line: say(f"   {line}"))
        if code != 0:
            say(f"\nthe offloader exited {code}")
            return 1

        say(f"\n== results read back from Blob storage ({DEFAULT_CONTAINER}/{prefix}/output/)")
        top = platform.storage.get_blob(DEFAULT_CONTAINER, f"{prefix}/output/aggregate/top.txt")
        totals = json.loads(platform.storage.get_blob(
            DEFAULT_CONTAINER, f"{prefix}/output/aggregate/counts.json"))
        for line in top.decode().splitlines():
            say(f"   {line}")
        direct = collections.Counter()
        for data in parts.values():
            direct.update(words(data.decode(errors="replace"), MIN_LENGTH))
        same = dict(direct) == totals
        say(f"\n   {sum(totals.values())} words, {len(totals)} distinct; the same as counting "
            f"the corpus directly: {'yes' if same else 'NO'}")
        logs = platform.storage.blob_names(DEFAULT_CONTAINER, f"{prefix}/logs/")
        say(f"   {len(logs)} task logs (stdout.txt, stderr.txt) under "
            f"{DEFAULT_CONTAINER}/{prefix}/logs/")
        return 0 if same else 1
    finally:
        platform.close()
        shutil.rmtree(work, ignore_errors=True)
        say("\n== stopped the webhook, Azurite and the emulator")


if __name__ == "__main__":
    sys.exit(main())
