"""RBAC rules as docs/KUBERNETES.md lists them, so that tests hold the chart's Roles to the docs:
one rule a line, "- `batch` `jobs`: `get`, `patch` (why)", between two phrases of the text."""
import re

from repo_paths import REPO_ROOT

RULE_LINE = re.compile(r"^\s*- `([^`]*)` `([^`]+)`: ((?:`[a-z]+`(?:, )?)+)", re.M)


def documented_rules(after: str, before: str) -> list:
    """The rules listed after the phrase `after` and before the phrase `before`."""
    text = (REPO_ROOT / "docs" / "KUBERNETES.md").read_text()
    section = text.split(after, 1)[1].split(before, 1)[0]
    return [{"apiGroups": ["" if group == '""' else group], "resources": [resource],
             "verbs": re.findall(r"`([a-z]+)`", verbs)}
            for group, resource, verbs in RULE_LINE.findall(section)]
