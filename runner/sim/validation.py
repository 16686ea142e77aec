"""Per-kind rules the real API server applies to the kinds added after the first cut: Leases (and
their MicroTime fields), so the store's generic checks stay generic.

Each rule takes the object the store is about to keep (a private copy it may normalise in place) and
raises the real server's error: 400 BadRequest for a body that would not decode (a MicroTime without
its six fractional digits), 422 Invalid with the field path for one that decodes but breaks a rule.
It must not know about HTTP or the store's internals.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from runner.errors import ClusterError, Invalid

Obj = dict[str, Any]

RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"  # Go's layout, quoted in decode errors
_MICRO_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{6})?(Z|[+-]\d{2}:\d{2})?$")


def qualified_kind(kind: str, group: str) -> str:
    """`Lease.coordination.k8s.io`, `Pod`: how the real server names a kind in its messages."""
    return f"{kind}.{group}" if group else kind


def invalid(kind: str, group: str, name: str, *details: str) -> Invalid:
    return Invalid(f'{qualified_kind(kind, group)} "{name}" is invalid: {", ".join(details)}', status=422,
                   reason="Invalid")


def micro_time(value: Any, kind: str, version: str) -> str:
    """A metav1.MicroTime as the real server reads and writes it: RFC 3339 with exactly six
    fractional digits and a zone on input (Go's time.Parse with RFC3339Micro), UTC with six digits
    on output. Anything else is the decode error a real server answers with 400."""
    def fail(detail: str) -> ClusterError:
        return ClusterError(f'{kind} in version "{version}" cannot be handled as a {kind}: parsing time '
                            f'"{value}" as "{RFC3339_MICRO}": {detail}', status=400, reason="BadRequest")

    if not isinstance(value, str):
        raise ClusterError(f'{kind} in version "{version}" cannot be handled as a {kind}: MicroTime must '
                           f"be a string, not {value!r}", status=400, reason="BadRequest")
    m = _MICRO_RE.match(value)
    if m is None:
        raise fail(f'cannot parse "{value}" as "{RFC3339_MICRO}"')
    base, frac, zone = m.groups()
    if frac is None:
        raise fail(f'cannot parse "{value[len(base):]}" as ".000000"')
    if zone is None:
        raise fail('cannot parse "" as "Z07:00"')
    try:
        parsed = dt.datetime.fromisoformat(base + frac + ("+00:00" if zone == "Z" else zone))
    except ValueError as exc:
        raise fail(f"{exc}") from exc
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease(obj: Obj, name: str) -> None:
    """coordination.k8s.io/v1 Lease: MicroTimes normalised, ValidateLeaseSpec's rules."""
    spec = obj.get("spec")
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise ClusterError('Lease in version "v1" cannot be handled as a Lease: spec must be an object',
                           status=400, reason="BadRequest")
    for key in ("acquireTime", "renewTime"):
        if spec.get(key) is not None:
            spec[key] = micro_time(spec[key], "Lease", "v1")
    errors: list[str] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        errors.append(f"spec.leaseDurationSeconds: Invalid value: {duration}: must be greater than 0")
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        errors.append(f"spec.leaseTransitions: Invalid value: {transitions}: "
                      "must be greater than or equal to 0")
    strategy = spec.get("strategy")
    if strategy not in (None, "", "OldestEmulationVersion"):
        errors.append(f'spec.strategy: Unsupported value: "{strategy}": supported values: '
                      '"OldestEmulationVersion"')
    if spec.get("preferredHolder") and not strategy:
        errors.append("spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined")
    if errors:
        raise invalid("Lease", "coordination.k8s.io", name, *errors)


# --- Services -------------------------------------------------------------------------------------

SERVICE_CIDR = "10.96.0.0/16"  # ClusterIPs come from here, as kubeadm's default range
NODE_PORTS = range(30000, 32768)
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
_PROTOCOLS = ("TCP", "UDP", "SCTP")


def _port_range(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def service(obj: Obj, old: Obj | None, used_ips: set[str], used_node_ports: set[int]) -> None:
    """Default, allocate and validate a Service as the registry does (ClusterIP from SERVICE_CIDR,
    nodePorts from 30000-32767; allocated values carried over on update when left out)."""
    name = str(obj["metadata"].get("name", ""))
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    old_spec = (old or {}).get("spec") or {}
    stype = spec.setdefault("type", "ClusterIP")
    errors: list[str] = []
    if stype not in _SERVICE_TYPES:
        raise invalid("Service", "", name, f'spec.type: Unsupported value: "{stype}": supported values: '
                      + ", ".join(f'"{t}"' for t in _SERVICE_TYPES))
    if stype == "ExternalName":
        if not spec.get("externalName"):
            errors.append("spec.externalName: Required value")
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    else:
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
        if old is not None and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]  # patchAllocatedValues
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        ip = spec.get("clusterIP") or ""
        if old is not None and old_spec.get("clusterIP") and ip != old_spec["clusterIP"]:
            errors.append(f'spec.clusterIPs[0]: Invalid value: ["{ip}"]: may not change once set')
        elif not ip:
            ip = _allocate_ip(used_ips)
        elif ip != "None" and old is None:
            if ip in used_ips:
                errors.append(f'spec.clusterIPs: Invalid value: ["{ip}"]: failed to allocate IP {ip}: '
                              "provided IP is already allocated")
            elif not _in_cidr(ip):
                errors.append(f'spec.clusterIPs: Invalid value: ["{ip}"]: failed to allocate IP {ip}: the '
                              f"provided IP ({ip}) is not in the valid range. The range of valid IPs is "
                              f"{SERVICE_CIDR}")
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
    ports = spec.get("ports")
    headless = spec.get("clusterIP") == "None"
    if not ports:
        if stype != "ExternalName" and not headless:
            errors.append("spec.ports: Required value")
        ports = []
    if not isinstance(ports, list):
        raise invalid("Service", "", name, "spec.ports: Invalid value: must be a list")
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []
                 if isinstance(p, dict)}
    names: set[str] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            errors.append(f"spec.ports[{i}]: Invalid value: must be an object")
            continue
        port.setdefault("protocol", "TCP")
        pname = port.get("name") or ""
        if len(ports) > 1 and not pname:
            errors.append(f"spec.ports[{i}].name: Required value")
        elif pname in names:
            errors.append(f'spec.ports[{i}].name: Duplicate value: "{pname}"')
        names.add(pname)
        if port["protocol"] not in _PROTOCOLS:
            errors.append(f'spec.ports[{i}].protocol: Unsupported value: "{port["protocol"]}": supported '
                          'values: "SCTP", "TCP", "UDP"')
        if not _port_range(port.get("port")):
            errors.append(f"spec.ports[{i}].port: Invalid value: {port.get('port')}: must be between 1 and "
                          "65535, inclusive")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
        elif isinstance(port["targetPort"], int) and not _port_range(port["targetPort"]):
            errors.append(f"spec.ports[{i}].targetPort: Invalid value: {port['targetPort']}: must be between "
                          "1 and 65535, inclusive")
        if stype in ("NodePort", "LoadBalancer"):
            if not port.get("nodePort"):
                previous = old_ports.get((port.get("port"), port["protocol"])) or {}
                port["nodePort"] = previous.get("nodePort") or _allocate_node_port(used_node_ports)
            elif old is None and port["nodePort"] in used_node_ports:
                errors.append(f"spec.ports[{i}].nodePort: Invalid value: {port['nodePort']}: "
                              "provided port is already allocated")
            elif port["nodePort"] not in NODE_PORTS:
                errors.append(f"spec.ports[{i}].nodePort: Invalid value: {port['nodePort']}: "
                              "provided port is not in the valid range. The range of valid ports is "
                              "30000-32767")
            used_node_ports.add(int(port["nodePort"]))
        else:
            port.pop("nodePort", None)
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    selector = spec.get("selector")
    if selector is not None and (not isinstance(selector, dict)
                                 or not all(isinstance(v, str) for v in selector.values())):
        errors.append("spec.selector: Invalid value: must be a map of strings")
    if errors:
        raise invalid("Service", "", name, *errors)


def _in_cidr(ip: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(SERVICE_CIDR)
    except ValueError:
        return False


def _allocate_ip(used: set[str]) -> str:
    import ipaddress

    net = ipaddress.ip_network(SERVICE_CIDR)
    for offset in range(10, net.num_addresses - 1):  # .1 is the kubernetes Service's, by convention
        ip = str(net.network_address + offset)
        if ip not in used:
            used.add(ip)
            return ip
    raise ClusterError("Internal error occurred: failed to allocate a serviceIP: range is full", status=500,
                       reason="InternalError")


def _allocate_node_port(used: set[int]) -> int:
    for port in NODE_PORTS:
        if port not in used:
            used.add(port)
            return port
    raise ClusterError("Internal error occurred: failed to allocate a nodePort: range is full", status=500,
                       reason="InternalError")


def endpoint_slice(obj: Obj, name: str) -> None:
    """discovery.k8s.io/v1 EndpointSlice: the required fields a real server insists on."""
    errors = []
    address_type = obj.get("addressType")
    if address_type not in ("IPv4", "IPv6", "FQDN"):
        errors.append("addressType: Required value" if not address_type else
                      f'addressType: Unsupported value: "{address_type}": supported values: '
                      '"FQDN", "IPv4", "IPv6"')
    for i, ep in enumerate(obj.get("endpoints") or []):
        addresses = ep.get("addresses") if isinstance(ep, dict) else None
        if not addresses:
            errors.append(f"endpoints[{i}].addresses: Required value: must contain at least 1 address")
    for i, port in enumerate(obj.get("ports") or []):
        if isinstance(port, dict) and port.get("port") is not None and not (
                isinstance(port["port"], int) and 0 <= port["port"] <= 65535):
            errors.append(f"ports[{i}].port: Invalid value: {port['port']}: must be between 1 and 65535, "
                          "inclusive")
    if errors:
        raise invalid("EndpointSlice", "discovery.k8s.io", name, *errors)


def secret(obj: Obj, name: str) -> None:
    """v1 Secret: `stringData` is write-only, merged into `data` (base64) as the registry does;
    `data` values must be base64."""
    import base64
    import binascii

    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        raise invalid("Secret", "", name, "data: Invalid value: must be a map")
    for key, value in (data or {}).items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ClusterError(f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data '
                               f"in data[{key!r}]", status=400, reason="BadRequest") from exc
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        merged = dict(data or {})
        for key, value in string_data.items():
            merged[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = merged
