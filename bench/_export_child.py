"""One timed segments_concat in a process of its own; prints its seconds and peak RSS as one JSON line."""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

# Run as `python bench/_export_child.py` from anywhere: the project root holds the `cameras` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cameras.media import export


def memory_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process. The kernel's VmHWM starts afresh at exec, where getrusage's
    ru_maxrss would start at the parent's peak (the bench holds segments and a moto server)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def s3_sources(*, url: str, bucket: str, keys: list[str]) -> list[Any]:
    import boto3

    # moto on loopback takes any key.
    client = boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106
        region_name="us-east-1",
    )

    def body(key: str) -> IO[bytes]:
        # A streaming response body, as cameras.storage.object_open returns on S3: it cannot seek.
        return client.get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[no-any-return]

    return [functools.partial(body, key) for key in keys]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=Path, nargs="*", default=[])
    parser.add_argument("--s3-url")
    parser.add_argument("--s3-bucket")
    parser.add_argument("--s3-keys", nargs="*", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--classic", action="store_true", help="Write a classic (unfragmented) MP4, to compare.")
    args = parser.parse_args()
    if args.classic:
        export._MUX_OPTIONS = {}  # what the module's comment weighs the fragmented muxer against
    if args.s3_url:
        sources = s3_sources(url=args.s3_url, bucket=args.s3_bucket, keys=args.s3_keys)
    else:
        sources = [functools.partial(path.open, "rb") for path in args.segments]
    rss_before_kb = memory_kb("VmRSS")
    started = time.perf_counter()
    result = export.segments_concat(sources=sources, out_path=args.out)
    seconds = time.perf_counter() - started
    peak_kb = memory_kb("VmHWM")
    # The hash is part of `seconds`; timing it again on the same file says how much of it.
    started = time.perf_counter()
    digest = hashlib.sha256()
    with args.out.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    hash_seconds = time.perf_counter() - started
    assert digest.hexdigest() == result.sha256
    print(
        json.dumps(
            {
                "seconds": seconds,
                "hash_seconds": hash_seconds,
                "peak_rss_mb": peak_kb / 1024,
                "rss_before_mb": rss_before_kb / 1024,
                "duration_s": result.duration_s,
                "packets": result.packets,
                "size_bytes": result.size_bytes,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
