"""A container's environment as the kubelet builds it, for running the
offloader pod's container locally (the demo, the tests and the kubelet
stand-in): envFrom sources first, then env entries in order; `value` expanded
with $(VAR) against what is defined so far and the service variables; valueFrom
resolved from the pod's metadata, Secrets and ConfigMaps; the service variables
last, where the container defines no variable of that name. Follows
pkg/kubelet/kubelet_pods.go makeEnvironmentVariables, and its error messages."""
import re

# utilvalidation.IsEnvVarName: envFrom keys that fail it are skipped, not an error.
ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
# Where a pod has no status yet (the demo builds the env without a cluster).
UNSCHEDULED_POD_IP, UNSCHEDULED_HOST_IP = "10.0.0.10", "10.0.0.1"


class MissingReference(RuntimeError):
    """A non-optional secretKeyRef/configMapKeyRef/envFrom that does not resolve: the
    kubelet refuses to start the container (CreateContainerConfigError, with this message)."""


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


def service_link_env(service: str, host: str, port: int, port_name: str = "", protocol: str = "tcp") -> dict:
    """The variables the kubelet gives every container for a Service (pkg/kubelet/envvars): for the
    `kubernetes` Service, the ones in-cluster clients read (KUBERNETES_SERVICE_HOST and _PORT)."""
    prefix = service.upper().replace("-", "_")
    address = f"{protocol}://{host}:{port}"
    port_prefix = f"{prefix}_PORT_{port}_{protocol.upper()}"
    env = {f"{prefix}_SERVICE_HOST": host, f"{prefix}_SERVICE_PORT": str(port),
           f"{prefix}_PORT": address, port_prefix: address, f"{port_prefix}_PROTO": protocol,
           f"{port_prefix}_PORT": str(port), f"{port_prefix}_ADDR": host}
    if port_name:
        env[f"{prefix}_SERVICE_PORT_{port_name.upper().replace('-', '_')}"] = str(port)
    return env


def field_value(pod: dict, path: str) -> str:
    """A downward-API fieldPath of `pod` (env fieldRef and downwardAPI volume items)."""
    meta = pod["metadata"]
    for kind in ("labels", "annotations"):
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']"):
            return meta.get(kind, {}).get(path[len(prefix):-2], "")
    status = pod.get("status", {})
    simple = {"metadata.name": meta.get("name", ""),
              "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""),
              "spec.nodeName": pod.get("spec", {}).get("nodeName", ""),
              "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", "default"),
              "status.podIP": status.get("podIP", UNSCHEDULED_POD_IP),
              "status.hostIP": status.get("hostIP", UNSCHEDULED_HOST_IP)}
    if path not in simple:
        raise ValueError(f"unsupported fieldRef {path}")
    return simple[path]


def _source(store, kind: str, ref: dict):
    """The {key: value} of the Secret/ConfigMap ref names; None when it is optional and absent."""
    found = store.get(ref["name"])
    if found is None and not ref.get("optional"):
        raise MissingReference(f'{kind.lower()} "{ref["name"]}" not found')
    return found


def _key_ref(ref: dict, store, kind: str, namespace: str):
    """The value of a Secret/ConfigMap key, None when optional and missing."""
    source = _source(store, kind, ref)
    if source is not None and ref["key"] in source:
        return source[ref["key"]]
    if ref.get("optional"):
        return None
    raise MissingReference(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref['name']}")


def container_env(container: dict, pod: dict, secrets, config_maps, service_env: dict = None) -> dict:
    """The environment the kubelet would give `container` of `pod`.
    secrets/config_maps: anything whose get(name) gives the {key: value} of that object of the pod's
    namespace, None when there is none (a dict of dicts, or a reader of the API server).
    service_env: the service variables (service_link_env), expandable and added last."""
    service_env = service_env or {}
    namespace = pod["metadata"].get("namespace", "")
    env = {}
    for source in container.get("envFrom", []):
        for kind, store, ref_name in (("Secret", secrets, "secretRef"), ("ConfigMap", config_maps, "configMapRef")):
            if ref_name in source:
                for key, value in (_source(store, kind, source[ref_name]) or {}).items():
                    name = source.get("prefix", "") + key
                    if ENV_VAR_NAME.fullmatch(name):
                        env[name] = value
    for entry in container.get("env", []):
        if "valueFrom" not in entry:
            env[entry["name"]] = expand(entry.get("value", ""), {**service_env, **env})
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            value = field_value(pod, source["fieldRef"]["fieldPath"])
        elif "secretKeyRef" in source:
            value = _key_ref(source["secretKeyRef"], secrets, "Secret", namespace)
        elif "configMapKeyRef" in source:
            value = _key_ref(source["configMapKeyRef"], config_maps, "ConfigMap", namespace)
        else:
            raise ValueError(f"unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[entry["name"]] = value
    return {**service_env, **env}


def command_line(container: dict, entrypoint: list, env: dict) -> list:
    """The argv a container runs: its command (else the image's entrypoint) then its args, $(VAR)
    in command and args expanded with the container's environment (ExpandContainerCommandAndArgs)."""
    command = [expand(word, env) for word in container.get("command", [])]
    return (command or list(entrypoint)) + [expand(word, env) for word in container.get("args", [])]
