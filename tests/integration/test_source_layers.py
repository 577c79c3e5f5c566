"""The C sources' layers hold: each folder includes only its own headers and those of the
folders below it (common/ at the bottom, then azure/, then each program), no include names a
path, no headers include each other round a cycle, and the libraries sit behind their seams:
libcurl only in azure/http_client.c, OpenSSL and wolfSSL only in common/tls_openssl.c and
common/tls_wolfssl.c. The Makefile's include paths enforce the first rule at compile time; this
test also catches a relative path past them."""
import re

import pytest

from repo_paths import REPO_ROOT

LAYERS = {
    "common": ["common"],
    "azure": ["azure", "common"],
    "webhook": ["webhook", "common"],
    "offloader": ["offloader", "azure", "common"],
}
SEAMS = {
    "curl/": {"azure/http_client.c"},
    "openssl/": {"common/tls_openssl.c"},
    "wolfssl/": {"common/tls_wolfssl.c"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def sources():
    for folder in LAYERS:
        for path in sorted((REPO_ROOT / folder).glob("*.[ch]")):
            yield folder, path


@pytest.mark.parametrize("folder,path", list(sources()),
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_includes_stay_in_their_layer(folder, path):
    text = path.read_text()
    name = f"{folder}/{path.name}"
    for kind, header in INCLUDE.findall(text):
        if kind == '"':
            assert "/" not in header, f"{name} includes {header} by path"
            found = [f for f in LAYERS[folder] if (REPO_ROOT / f / header).exists()]
            assert found, f"{name} includes {header}, which is not in {LAYERS[folder]}"
        for prefix, allowed in SEAMS.items():
            if header.startswith(prefix):
                assert name in allowed, f"{name} includes {header}: only {allowed} may"


def test_every_layer_has_sources():
    """The scan above reads files, so an empty or renamed folder would make it pass vacuously."""
    for folder in LAYERS:
        assert len(list((REPO_ROOT / folder).glob("*.c"))) >= 5, folder


def header_graph() -> dict:
    """Each header to the headers it includes, each resolved as the Makefile's include paths
    do: in its own folder first, then in the folders below it."""
    def resolve(folder, header):
        return next((f"{f}/{header}" for f in LAYERS[folder] if (REPO_ROOT / f / header).exists()),
                    None)

    graph = {}
    for folder, path in sources():
        if path.suffix == ".h":
            included = (resolve(folder, header) for kind, header in INCLUDE.findall(path.read_text())
                        if kind == '"')
            graph[f"{folder}/{path.name}"] = [h for h in included if h]
    return graph


def include_cycle(graph: dict) -> list:
    """The first cycle found, as the path round it, or [] when there is none."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = "done"
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return []


def test_headers_include_each_other_without_a_cycle():
    graph = header_graph()
    assert len(graph) >= 40, "the scan found too few headers to mean anything"
    assert include_cycle(graph) == [], " -> ".join(include_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert include_cycle({"a.h": ["b.h"], "b.h": ["c.h"], "c.h": ["a.h"]}) == \
        ["a.h", "b.h", "c.h", "a.h"]
    assert include_cycle({"a.h": ["b.h"], "b.h": [], "c.h": ["a.h", "b.h"]}) == []
