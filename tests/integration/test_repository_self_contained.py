"""A clone of the repository, alone in an empty folder, has everything its build, tests and demo
read: no file reads or names a path outside the checkout, in code, comments or docs (point at the
vendored copy in third_party/ or at docs/ instead). The one exception is the line of .ci/run that
points BATCH_OFFLOAD_KUBE_ASSETS at the release binaries kept beside the team's checkouts."""
import re
import subprocess

import pytest

from repo_paths import REPO_ROOT

# What leads out of the checkout, each with what to do instead.
NAMED_ESCAPES = (
    ("names the team's reference folder beside the checkout: vendor what is needed into third_party/",
     re.compile(r"(?<![\w-])(?:\.\./)+shared\b|(?<![\w/.-])shared[/]")),  # [/]: so this line is no match
    ("names the team's notes kept beside the checkout: their facts are in docs/azure-facts.md",
     re.compile(r"\bFACTS\.md\b")),
    ("an absolute path on a developer's machine",
     re.compile(r"(?<![\w.~$}-])/(?:work|home|root|Users)/[\w.-]")),
    ("goes above the repository root",
     re.compile(r"\b(?:REPO_ROOT|REPO|ROOT)\s*(?:\.parent\b|/\s*[\"']\.\.)")),
)
RELATIVE_CLIMB = re.compile(r"(?<![\w.])((?:\.\./)+)")
FILE_ANCESTOR = re.compile(r"__file__.*?(?:\.parents\[(\d+)\]|((?:\.parent\b)+))")
# The single exception: .ci/run sets the variable to the binaries beside the checkout, when there.
EXCEPTION_FILE, EXCEPTION_MARK = ".ci/run", "BATCH_OFFLOAD_KUBE_ASSETS="


def escapes(relative_path: str, text: str):
    """(line number, line, why) for every way a line of the file leads out of the checkout."""
    depth = relative_path.count("/")  # directories between the root and the file
    for number, line in enumerate(text.splitlines(), 1):
        found = [why for why, pattern in NAMED_ESCAPES if pattern.search(line)]
        if any(len(climb.group(1)) // 3 > depth for climb in RELATIVE_CLIMB.finditer(line)):
            found.append("a relative path that climbs above the repository")
        for ancestor in FILE_ANCESTOR.finditer(line):
            levels = int(ancestor.group(1)) + 1 if ancestor.group(1) else ancestor.group(2).count(".parent")
            if levels > depth + 1:
                found.append(f"goes {levels} directories up from a file {depth + 1} below the root")
        for why in found:
            yield number, line.strip(), why


def repository_files() -> list:
    """Every file git tracks or would track (new files count before they are added)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO_ROOT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the files to scan are the ones git tracks")
    names = sorted({name for name in listed.stdout.decode().split("\0") if name})
    return [name for name in names if (REPO_ROOT / name).is_file()]


def test_no_file_leads_outside_the_checkout():
    found, exceptions = [], []
    for name in repository_files():
        content = (REPO_ROOT / name).read_bytes()
        if b"\0" in content:
            continue  # binary: fuzz corpora
        for number, line, why in escapes(name, content.decode(errors="replace")):
            if name == EXCEPTION_FILE and EXCEPTION_MARK in line:
                exceptions.append(line)
            else:
                found.append(f"{name}:{number}: {why}: {line[:160]}")
    assert found == [], "\n".join(found)
    assert len(exceptions) <= 1, f"{EXCEPTION_FILE} may name the binaries beside the checkout once: {exceptions}"


# The patterns that were there before the checkout stood alone, and what must still pass. Built
# from pieces so that the scan of this very file finds none of them.
UP, TEAM, FILE, PARENT = "../", "shared", "__file__", ".parent"
CAUGHT = [
    ("README.md", f"is in [`{UP}{TEAM}/DESIGN.md`]({UP}{TEAM}/DESIGN.md); where this"),
    ("common/sas.c", f" * (learn.microsoft.com; {UP}{TEAM}/azure-batch/FACTS" ".md"),
    ("tests/batch_emulator/README.md", f"`{UP * 3}{TEAM}/azure-batch/BatchService.2025-06-01.21.0.json`)"),
    ("tests/batch_emulator/batch_api.py", f"# by operationId ({TEAM}/azure-batch/operations.txt):"),
    ("tests/batch_emulator/emulator.py", f'SHARED_DIR = Path({FILE}).resolve().parents[3] / "{TEAM}"'),
    ("tests/lib/repo_paths.py", f'SHARED_DIR = REPO_ROOT{PARENT} / "{TEAM}"'),
    ("tests/fixtures/make_admission_reviews.py", f'SAMPLES = ROOT{PARENT} / "{TEAM}" / "kubernetes"'),
    ("tests/lib/k8s_defaults.py", f"CREATE: the defaults it has applied (see {UP}{TEAM}/README.md)"),
    ("tests/lib/repo_paths.py", f"The shared reference data (`{TEAM}/`) sits beside the checkout."),
    ("tests/lib/x.py", f"DATA = Path({FILE}).resolve().parent.parent.parent.parent / 'data'"),
    ("tests/lib/x.py", f'DATA = REPO_ROOT / "{UP}data"'),
    ("Makefile", f"\tcp {UP}notes.txt build/"),
    ("tests/demo/run_demo.py", "CORPUS = Path('/" "work/corpus')"),
]
PASSED = [
    ("tests/batch_emulator/emulator.py", f'SPEC_DIR = Path({FILE}).resolve().parents[2] / "third_party"'),
    ("tests/batch_emulator/output_files.py", f"# uploads {UP}stdout.txt of the task directory"),
    ("third_party/kubernetes/openapi/SOURCE.txt", f"{UP}crds/: cert-manager.io CRDs"),
    ("tests/batch_emulator/node.py", f'"AZ_BATCH_NODE_SHARED_DIR": os.path.join(self.root_dir, "{TEAM}"),'),
    ("tests/demo/run_demo.py", 'CORPUS = Path("/usr/share/common-licenses")'),
]


@pytest.mark.parametrize("path, line", CAUGHT)
def test_the_scan_catches_a_path_outside(path, line):
    assert list(escapes(path, line)), f"not caught in {path}: {line}"


@pytest.mark.parametrize("path, line", PASSED)
def test_the_scan_lets_paths_inside_pass(path, line):
    assert list(escapes(path, line)) == []
