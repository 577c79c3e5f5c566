# Azure Batch REST emulator for the project's tests: run it, point a Batch client at the URL it
# prints, and it behaves like a Batch account whose pool runs tasks as local processes.
#
#   /usr/bin/python3 tests/batch_emulator/emulator.py --account NAME --key BASE64KEY [--host 127.0.0.1]
#       [--port 0] [--port-file PATH] [--image-map PATH] [--work-dir DIR] [--slots N]
#       [--tls-cert PEM --tls-key PEM] [--auth sharedkey,bearer]
#       [--entra-tenant TENANT --entra-client CLIENT_ID[:SECRET]... [--entra-token-lifetime SECONDS]
#        [--entra-federated-issuer URL --entra-federated-subject SUBJECT --entra-federated-key PEM]]
#
# Prints "batch-emulator listening on http://HOST:PORT account=NAME" once ready; stops cleanly on
# SIGTERM or SIGINT, killing the task processes it started. See README.md.
import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from account import Account
from auth import Authenticator, BearerVerifier, SharedKeyVerifier
from batch_api import BatchApi
from container_images import ImageMap
from control_api import SUPPORTED_IMAGE_DEFINITION, ControlApi
from entra import Directory, EntraService, FederatedCredential, TokenIssuer
from faults import FaultInjector
from http_frontend import BatchHTTPServer, tls_context
from node import Node
from operations import OperationTable
from request_stats import RequestStats
from scheduler import Scheduler
from service import BatchService
from spec_validation import SpecValidator

SPEC_DIR = Path(__file__).resolve().parents[2] / "third_party" / "azure-batch"
SPEC_PATH = SPEC_DIR / "BatchService.2025-06-01.21.0.json"
OPERATIONS_PATH = SPEC_DIR / "operations.txt"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Azure Batch REST emulator")
    parser.add_argument("--account", required=True, help="Batch account name")
    parser.add_argument("--key", required=True, help="account key, base64")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the chosen port to this file")
    parser.add_argument("--image-map", help="JSON file mapping container images to local programs")
    parser.add_argument("--work-dir", help="where nodes keep task directories (default: a temporary dir)")
    parser.add_argument("--slots", type=int, default=8, help="tasks running at once (pool capacity)")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    parser.add_argument("--auth", help="comma-separated schemes Batch requests may use: sharedkey, bearer "
                                       "(default: sharedkey, and bearer too with --entra-tenant)")
    parser.add_argument("--entra-tenant", help="serve Entra ID tokens for this tenant id")
    parser.add_argument("--entra-client", action="append", default=[], metavar="CLIENT_ID[:SECRET]",
                        help="an application (or managed identity) of the tenant; repeatable")
    parser.add_argument("--entra-token-lifetime", type=int, default=3600, help="access token lifetime, seconds")
    parser.add_argument("--entra-federated-issuer", help="trust assertions from this issuer (workload identity)")
    parser.add_argument("--entra-federated-subject", help="... about this subject")
    parser.add_argument("--entra-federated-key", help="... signed with this RSA key (PEM public key)")
    arguments = parser.parse_args(argv)
    if bool(arguments.tls_cert) != bool(arguments.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if arguments.slots < 1:
        parser.error("--slots must be at least 1")
    if bool(arguments.entra_tenant) != bool(arguments.entra_client):
        parser.error("--entra-tenant needs at least one --entra-client, and --entra-client needs --entra-tenant")
    federated = (arguments.entra_federated_issuer, arguments.entra_federated_subject, arguments.entra_federated_key)
    if any(federated) and not (all(federated) and arguments.entra_tenant):
        parser.error("--entra-federated-issuer, --entra-federated-subject and --entra-federated-key go together, "
                     "with --entra-tenant")
    if arguments.entra_token_lifetime < 1:
        parser.error("--entra-token-lifetime must be at least 1")
    schemes = arguments.auth or ("sharedkey,bearer" if arguments.entra_tenant else "sharedkey")
    arguments.auth = set(filter(None, schemes.lower().split(",")))
    if not arguments.auth or arguments.auth - {"sharedkey", "bearer"}:
        parser.error("--auth takes sharedkey, bearer or both, comma-separated")
    if "bearer" in arguments.auth and not arguments.entra_tenant:
        parser.error("--auth bearer needs --entra-tenant (the emulator checks the tokens it issues)")
    return arguments


def token_service(arguments, stats):
    """The Entra ID token service the arguments describe, or None."""
    if not arguments.entra_tenant:
        return None
    federated = None
    if arguments.entra_federated_issuer:
        issuer_key = serialization.load_pem_public_key(Path(arguments.entra_federated_key).read_bytes())
        federated = FederatedCredential(arguments.entra_federated_issuer, arguments.entra_federated_subject,
                                        issuer_key)
    clients = {client: secret or None for client, _, secret in
               (option.partition(":") for option in arguments.entra_client)}
    directory = Directory(arguments.entra_tenant, clients, federated)
    return EntraService(directory, TokenIssuer(arguments.entra_tenant, arguments.entra_token_lifetime), stats)


def main(argv):
    arguments = parse_arguments(argv)
    work_dir = arguments.work_dir or tempfile.mkdtemp(prefix="batch-emulator-")
    operations = OperationTable(OPERATIONS_PATH)
    validator = SpecValidator(SPEC_PATH, {op.body_definition for op in operations.operations if op.body_definition}
                              | {SUPPORTED_IMAGE_DEFINITION})
    image_map = ImageMap.load(arguments.image_map)
    faults, stats = FaultInjector(), RequestStats()
    context = tls_context(arguments.tls_cert, arguments.tls_key) if arguments.tls_cert else None

    server = BatchHTTPServer((arguments.host, arguments.port), context)
    account = Account(arguments.account, server.url)
    nodes = [Node(f"tvmps_emulator{index:04d}_d", os.path.join(work_dir, "nodes", f"node{index}"), image_map)
             for index in range(arguments.slots)]
    scheduler = Scheduler(account, nodes)
    entra = token_service(arguments, stats)
    verifiers = ([SharedKeyVerifier(arguments.account, arguments.key)] if "sharedkey" in arguments.auth else []) + \
                ([BearerVerifier(entra.issuer.public_key)] if "bearer" in arguments.auth else [])
    server.service = BatchService(operations, BatchApi(account, validator, stats), Authenticator(verifiers),
                                  faults, stats, ControlApi(scheduler, faults, stats, validator), entra)

    stop_requested = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop_requested.set())
    scheduler.start()
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    if arguments.port_file:
        Path(arguments.port_file).write_text(str(server.server_address[1]))
    print(f"batch-emulator listening on {server.url} account={arguments.account}", flush=True)

    stop_requested.wait()
    server.shutdown()
    scheduler.stop()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
