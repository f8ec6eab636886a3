"""Re-runs a benchmark inside a private network namespace whose only addresses are loopback ones.

Inside it nothing can reach another machine, whatever a library gathers or resolves. Janus skips
interfaces flagged LOOPBACK when it gathers ICE candidates (and libnice then refuses to use `lo`), so the
namespace also gets a second, device-less interface `lanternice0` carrying 127.0.0.1/32: Janus gathers
127.0.0.1 from it, and the kernel still delivers that traffic through loopback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

ENV_FLAG = "LANTERN_BENCH_NETNS"
ICE_INTERFACE = "lanternice0"
_SETUP = (
    "ip link set lo up"
    f" && {{ ip link add {ICE_INTERFACE} type ifb && ip link set {ICE_INTERFACE} up"
    f" && ip addr add 127.0.0.1/32 dev {ICE_INTERFACE} || echo 'no {ICE_INTERFACE}: Janus will not gather' >&2; }}"
    ' && exec "$@"'
)


def network_isolation() -> str:
    """'private' inside the namespace; otherwise re-executes this script inside one when we can, else 'shared'."""
    if os.environ.get(ENV_FLAG) == "1":
        return "private"
    if os.environ.get(ENV_FLAG) == "0" or not _can_unshare():
        return "shared"
    env = {**os.environ, ENV_FLAG: "1"}
    command = ["unshare", "--net", "--", "sh", "-c", _SETUP, "sh", sys.executable, *sys.argv]
    sys.stdout.flush()
    os.execvpe("unshare", command, env)  # noqa: S606 - a fixed command, no shell involved


def ice_interface_present() -> bool:
    # Not /sys/class/net: sysfs shows the namespace it was mounted in, not ours.
    return any(name == ICE_INTERFACE for _, name in socket.if_nameindex())


def _can_unshare() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    try:
        return subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
