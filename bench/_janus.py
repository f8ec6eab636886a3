"""Runs Janus with only its streaming plugin and HTTP transport on loopback, and talks to its HTTP API."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JANUS_BINARY = "/usr/bin/janus"
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
LOOPBACK = "127.0.0.1"
MOUNTPOINT_ID = 1
STREAMING_PLUGIN = "janus.plugin.streaming"


def janus_installed() -> bool:
    """Whether Janus is here; installs Debian's package if it is not (apt-get needs root and the Debian mirror)."""
    if Path(JANUS_BINARY).exists():
        return True
    if shutil.which("apt-get") is None:
        return False
    print("installing Debian's janus package (apt-get install -y janus) ...", flush=True)
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "janus"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True)
    return Path(JANUS_BINARY).exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _disabled(folder: str, keep: str) -> str:
    names = sorted(p.name for p in (JANUS_LIB / folder).glob("*.so") if p.name != keep)
    return ",".join(names)


def config_write(*, folder: Path, http_port: int, rtsp_url: str | None, rtp_port: int | None, interface: str) -> None:
    """Janus's configuration for one H.264 mountpoint (id 1), fed by RTSP or, with rtp_port, by plain RTP.

    Everything is on 127.0.0.1: ICE gathers only there, there is no STUN/TURN, HTTP listens only there,
    and every plugin, transport, logger and event handler but the streaming plugin and HTTP is disabled.
    `interface` names the interface holding 127.0.0.1 for ICE: Janus's gatherer skips any interface flagged
    LOOPBACK (see bench/_netns.py). Janus 1.1.2 binds an RTSP mountpoint's RTP sockets to the wildcard
    address whatever rtspiface says, which is why Janus is only run in a namespace with nothing but loopback.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{JANUS_LIB / "plugins"}"
    transports_folder = "{JANUS_LIB / "transports"}"
    events_folder = "{JANUS_LIB / "events"}"
    loggers_folder = "{JANUS_LIB / "loggers"}"
    debug_level = 3
    interface = "{LOOPBACK}"
    session_timeout = 0
    server_name = "lantern-bench"
}}
certificates: {{
}}
media: {{
    ipv6 = false
    rtp_port_range = "40000-49999"
}}
nat: {{
    nice_debug = false
    ice_enforce_list = "{interface}"
    ignore_mdns = true
    full_trickle = false
}}
plugins: {{
    disable = "{_disabled("plugins", "libjanus_streaming.so")}"
}}
transports: {{
    disable = "{_disabled("transports", "libjanus_http.so")}"
}}
loggers: {{
    disable = "{_disabled("loggers", "")}"
}}
events: {{
    broadcast = false
    disable = "{_disabled("events", "")}"
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "{LOOPBACK}"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
"""
    )
    if rtsp_url is not None:
        mountpoint = f"""    type = "rtsp"
    url = "{rtsp_url}"
    rtspiface = "{interface}"
    rtsp_reconnect_delay = 5
    rtsp_session_timeout = 0
    rtsp_timeout = 10
    rtsp_conn_timeout = 5
    audio = false
    video = true"""
    else:
        mountpoint = f"""    type = "rtp"
    audio = false
    video = true
    videoport = {rtp_port}
    videoiface = "{interface}"
    videopt = 96
    videortpmap = "H264/90000"
    videofmtp = "profile-level-id=42e01f;packetization-mode=1"
    videobufferkf = true"""
    (folder / "janus.plugin.streaming.jcfg").write_text(
        f"""general: {{
    events = false
    rtp_port_range = "50000-59999"
}}
camera: {{
    id = {MOUNTPOINT_ID}
    description = "Lantern benchmark camera"
{mountpoint}
}}
"""
    )


class JanusServer:
    """A Janus process on a temporary configuration; stop() ends it."""

    def __init__(self, *, folder: Path, interface: str, rtsp_url: str | None, rtp_port: int | None = None) -> None:
        self.folder = folder
        self.http_port = free_port()
        self.url = f"http://{LOOPBACK}:{self.http_port}/janus"
        config_write(folder=folder, http_port=self.http_port, rtsp_url=rtsp_url, rtp_port=rtp_port, interface=interface)
        self.log_path = folder / "janus.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [JANUS_BINARY, "-C", str(folder / "janus.jcfg"), "-F", str(folder), "-o"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, *, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                info = http_json(f"{self.url}/info", None, timeout_s=1.0)
                if STREAMING_PLUGIN in info.get("plugins", {}):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"janus did not answer within {timeout_s} s:\n{self.log_tail()}")

    def mountpoint_info(self) -> dict[str, Any]:
        api = JanusApi(self.url)
        session = api.create()
        try:
            handle = api.attach(session, STREAMING_PLUGIN)
            reply = api.message(session, handle, {"request": "info", "id": MOUNTPOINT_ID})
            return dict(reply.get("plugindata", {}).get("data", {}))
        finally:
            api.destroy(session)

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def http_json(url: str, body: dict[str, Any] | None, *, timeout_s: float = 10.0) -> dict[str, Any]:
    # The handler has no proxy support on purpose: a proxy set in the environment must never be used.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=timeout_s) as response:
        return dict(json.loads(response.read()))


@dataclass
class JanusApi:
    """Janus's HTTP API, synchronous (call it from a thread in asyncio code)."""

    url: str

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6)}
        reply = http_json(self.url + path, body)
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {reply.get('error')}")
        return reply

    def create(self) -> int:
        return int(self._post("", {"janus": "create"})["data"]["id"])

    def attach(self, session: int, plugin: str) -> int:
        return int(self._post(f"/{session}", {"janus": "attach", "plugin": plugin})["data"]["id"])

    def message(
        self, session: int, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        return self._post(f"/{session}/{handle}", request)

    def event_with_jsep(self, session: int, *, timeout_s: float = 20.0) -> dict[str, Any]:
        """Long-polls the session's events until one carries an SDP; errors and hangups raise."""
        deadline = time.monotonic() + timeout_s
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            with opener.open(f"{self.url}/{session}?maxev=1&rid={time.time_ns()}", timeout=timeout_s) as response:
                event = json.loads(response.read())
            if isinstance(event, list):
                event = event[0] if event else {}
            if "jsep" in event:
                return dict(event)
            data = event.get("plugindata", {}).get("data", {})
            if event.get("janus") in ("hangup", "detached") or "error" in data:
                raise RuntimeError(f"janus refused to stream: {event}")
        raise TimeoutError("janus sent no offer")

    def destroy(self, session: int) -> None:
        with contextlib.suppress(OSError, RuntimeError):  # already gone
            self._post(f"/{session}", {"janus": "destroy"})


class RtpForwarder:
    """FFmpeg copying the camera's H.264 from RTSP to plain RTP on loopback, for Janus's RTP mountpoint."""

    def __init__(self, *, rtsp_url: str, rtp_port: int, log: Path) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "warning",
                "-rtsp_transport",
                "tcp",
                "-i",
                rtsp_url,
                "-map",
                "0:v",
                "-c",
                "copy",
                "-f",
                "rtp",
                "-payload_type",
                "96",
                f"rtp://{LOOPBACK}:{rtp_port}?pkt_size=1200",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def mountpoint_live(server: JanusServer, *, timeout_s: float) -> bool:
    """Whether the mountpoint exists and has had video in the last second, waiting up to timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            media = server.mountpoint_info().get("info", {}).get("media", [])
        except (OSError, RuntimeError):
            media = []
        if any(m.get("age_ms") is not None and m["age_ms"] < 1000 for m in media):
            return True
        time.sleep(0.5)
    return False


def janus_with_camera(
    *, folder: Path, interface: str, rtsp_url: str, source: str
) -> tuple[JanusServer, RtpForwarder | None, str]:
    """Janus with one live mountpoint: RTSP if it works (source "auto" or "rtsp"), else fed by an FFmpeg forwarder."""
    if source in ("auto", "rtsp"):
        server = JanusServer(folder=folder / "rtsp", interface=interface, rtsp_url=rtsp_url)
        server.wait_ready()
        if mountpoint_live(server, timeout_s=10):
            return server, None, "RTSP mountpoint (Janus reads the camera itself)"
        server.stop()
        if source == "rtsp":
            raise RuntimeError(f"Janus's RTSP mountpoint got no video:\n{server.log_tail()}")
    rtp_port = free_port()
    server = JanusServer(folder=folder / "rtp", interface=interface, rtsp_url=None, rtp_port=rtp_port)
    server.wait_ready()
    forwarder = RtpForwarder(rtsp_url=rtsp_url, rtp_port=rtp_port, log=folder / "forwarder.log")
    if not mountpoint_live(server, timeout_s=15):
        forwarder.stop()
        server.stop()
        raise RuntimeError(f"Janus's RTP mountpoint got no video from the forwarder:\n{server.log_tail()}")
    why = "RTSP mountpoint got no video" if source == "auto" else "asked for"
    return server, forwarder, f"RTP mountpoint fed by FFmpeg (-c copy -f rtp, not counted as Janus's CPU; {why})"
