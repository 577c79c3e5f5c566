"""Load Kubernetes YAML the way the API server's decoder sees it.

PyYAML's SafeLoader turns unquoted dates and times (`2024-01-01`) into datetime objects; the
Kubernetes decoder (sigs.k8s.io/yaml) keeps them as strings, so this loader does too.
"""
import yaml


class KubernetesYamlLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


KubernetesYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str) -> list:
    """Every non-empty document of a multi-document YAML (or JSON) text."""
    return [doc for doc in yaml.load_all(text, Loader=KubernetesYamlLoader) if doc is not None]
