"""A container's environment as the kubelet builds it, for running the
offloader pod's container locally (the demo and the tests): envFrom sources
first, then env entries in order; `value` expanded with $(VAR) against what
is defined so far; valueFrom resolved from the pod's metadata, Secrets and
ConfigMaps. Follows pkg/kubelet/kubelet_pods.go makeEnvironmentVariables."""


class MissingReference(RuntimeError):
    """A non-optional secretKeyRef/configMapKeyRef that does not resolve: the
    kubelet refuses to start the container (CreateContainerConfigError)."""


def expand(text: str, env: dict) -> str:
    """Kubernetes $(VAR) expansion (third_party/forked/golang/expansion)."""
    out = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1:]
            advance = 1
            if rest[0] == "$":
                out.append("$")
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close < 0:
                    out.append("$(")
                else:
                    name = rest[1:close]
                    out.append(env[name] if name in env else f"$({name})")
                    advance = close + 1
            else:
                out.append("$" + rest[0])
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _field(pod: dict, path: str) -> str:
    meta = pod["metadata"]
    for kind in ("labels", "annotations"):
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']"):
            return meta.get(kind, {}).get(path[len(prefix):-2], "")
    simple = {"metadata.name": meta.get("name", ""),
              "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""),
              "spec.nodeName": pod.get("spec", {}).get("nodeName", ""),
              "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", "default"),
              "status.podIP": "10.0.0.10", "status.hostIP": "10.0.0.1"}
    if path not in simple:
        raise ValueError(f"unsupported fieldRef {path}")
    return simple[path]


def _key_ref(ref: dict, store: dict, kind: str):
    """The value of a Secret/ConfigMap key, None when optional and missing."""
    source = store.get(ref["name"])
    if source is not None and ref["key"] in source:
        return source[ref["key"]]
    if ref.get("optional"):
        return None
    raise MissingReference(f"{kind} {ref['name']!r} has no key {ref['key']!r}")


def container_env(container: dict, pod: dict, secrets: dict, config_maps: dict) -> dict:
    """The environment the kubelet would give `container` of `pod`.
    secrets/config_maps: {name: {key: value}} in the pod's namespace."""
    env = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        for kind, store in (("secretRef", secrets), ("configMapRef", config_maps)):
            if kind in source:
                ref = source[kind]
                if ref["name"] not in store and not ref.get("optional"):
                    raise MissingReference(f"{kind} {ref['name']!r} not found")
                for key, value in store.get(ref["name"], {}).items():
                    env[prefix + key] = value
    for entry in container.get("env", []):
        if "valueFrom" not in entry:
            env[entry["name"]] = expand(entry.get("value", ""), env)
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            value = _field(pod, source["fieldRef"]["fieldPath"])
        elif "secretKeyRef" in source:
            value = _key_ref(source["secretKeyRef"], secrets, "Secret")
        elif "configMapKeyRef" in source:
            value = _key_ref(source["configMapKeyRef"], config_maps, "ConfigMap")
        else:
            raise ValueError(f"unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[entry["name"]] = value
    return env
