"""How a driver reaches Ray: its own local instance, or the cluster RAY_ADDRESS names, with a bounded wait.

A plain `ray.init()` joins whatever head the `ray_current_cluster` file in Ray's temp folder names, waits forever
when that head has died, and runs the workers with that head's Python. So without RAY_ADDRESS the driver starts a
local instance of its own (`address="local"`); with RAY_ADDRESS it first checks that something answers there and that
the cluster runs this process's Ray and Python versions, and says what it found.

Ray Train's placement-group cleaner, a worker, asks Ray's state API whether the training controller still lives. In a
worker the state API looks for a cluster on the machine when it is not told one: with another Ray running there it
fails ("Found multiple active Ray instances") or asks the other one. So the local instance's workers are told their
own dashboard (RAY_API_SERVER_ADDRESS, which the state API reads first); jobs/submit.sh does the same for its head.
"""

import os
import platform
import socket
import sys
import threading

ADDRESS_VARIABLE = "RAY_ADDRESS"
API_SERVER_VARIABLE = "RAY_API_SERVER_ADDRESS"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def describe(resources: dict) -> str:
    return f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs"


def host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a GCS address ("10.0.0.1:6379", "ray://host:10001"); None for "auto" and other forms."""
    host, _, port = address.split("://")[-1].rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def check_answers(address: str, timeout_s: float) -> None:
    found = host_port(address)
    if found is None:
        return
    try:
        socket.create_connection(found, timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"{ADDRESS_VARIABLE}={address}: nothing answers there ({exc.strerror or exc}) — start "
                              "the cluster (ray start --head), fix the address, or unset RAY_ADDRESS to run on a "
                              "local Ray of this process's own.") from exc


def cluster_versions(address: str, timeout_s: float) -> dict | None:
    """The Ray and Python versions the cluster at a GCS address was started with (None when it does not say or does
    not answer in time)."""
    import ray._common.usage.usage_lib as usage_lib
    import ray._raylet

    found = {}

    def read() -> None:
        try:
            found.update(usage_lib.get_cluster_metadata(ray._raylet.GcsClient(address=address)) or {})
        except Exception as exc:  # noqa: BLE001 - no metadata: ray.init's own check still runs
            found["error"] = exc

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    return found if "ray_version" in found else None


def check_versions(address: str, cluster: dict) -> None:
    import ray

    ours = {"ray_version": ray.__version__, "python_version": platform.python_version()}
    if (cluster["ray_version"], cluster["python_version"]) != (ours["ray_version"], ours["python_version"]):
        raise ValueError(f"{ADDRESS_VARIABLE}={address}: the cluster runs Ray {cluster['ray_version']} on Python "
                         f"{cluster['python_version']}, this driver Ray {ours['ray_version']} on Python "
                         f"{ours['python_version']} ({sys.executable}) — run the driver with the cluster's "
                         "environment, or unset RAY_ADDRESS to run on a local Ray of this process's own.")


def connect(timeout_s: float = 30.0) -> str:
    """Connect this process to Ray (once); returns and prints a line saying what it found."""
    import ray
    from ray._private import services

    if ray.is_initialized():
        return "already connected"
    address = os.environ.get(ADDRESS_VARIABLE)
    if not address or address == "local":
        dashboard = free_port()
        ray.init(address="local", logging_level="WARNING", dashboard_port=dashboard,
                 runtime_env={"env_vars": {API_SERVER_VARIABLE: f"http://127.0.0.1:{dashboard}"}})
        found = f"[ray] started a local Ray of this process's own: {describe(ray.cluster_resources())} " \
                f"(set {ADDRESS_VARIABLE} to run on a cluster)"
    else:
        # "auto" means the head Ray's temp folder names: the one that may have died.
        target = (services.canonicalize_bootstrap_address(address) if address == "auto" else None) or address
        check_answers(target, timeout_s)
        if not target.startswith("ray://"):
            versions = cluster_versions(target, timeout_s)
            if versions:
                check_versions(address, versions)
        ray.init(address=address, logging_level="WARNING")
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        found = f"[ray] connected to {address}: {nodes} nodes, {describe(ray.cluster_resources())}"
    print(found, file=sys.stderr, flush=True)
    return found
