"""Tip attachments stripped of what could identify the tipster: images re-encoded, videos remuxed, by content."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, ImageOps

# Phones take 12-50 MP photos; a file that declares more is a decompression bomb or useless to an officer.
MAX_IMAGE_PIXELS = 60_000_000

IMAGE_FORMATS = {"jpeg", "png", "webp", "heic"}
VIDEO_FORMATS = {"mp4", "mov"}

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"MSNV", b"dash"}
_MOV_BRANDS = {b"qt  "}
# The format Pillow must report for what the magic bytes said; a mismatch is a file built to be read two ways.
_PILLOW_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}


class Refused(Exception):
    """The file cannot be kept; the message is said to the tipster as it is, in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ScrubResult:
    kind: str  # "image" or "video"
    content_type: str
    extension: str  # of the scrubbed file, without the dot


def sniff(*, head: bytes) -> str | None:
    """The format the first bytes of a file show ("jpeg", "png", "webp", "heic", "mp4", "mov"), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "heic"
        if brand in _MOV_BRANDS:
            return "mov"
        if brand in _MP4_BRANDS:
            return "mp4"
    return None


def kind_of(*, fmt: str) -> str:
    return "video" if fmt in VIDEO_FORMATS else "image"


def _register_heif() -> None:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - pillow-heif is a dependency; without it HEIC reads as damaged
        return
    pillow_heif.register_heif_opener()


def image_scrub(*, source: Path, target: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> ScrubResult:
    """Decode the whole image and write only its pixels again (PNG stays PNG, the rest becomes JPEG), so EXIF,
    GPS, XMP, comments, thumbnails and anything appended after the image are left behind."""
    with source.open("rb") as f:
        fmt = sniff(head=f.read(32))
    if fmt not in IMAGE_FORMATS:
        raise Refused(str(_("This file is not a photo we can accept (JPEG, PNG, WebP or HEIC).")))
    if fmt == "heic":
        _register_heif()
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; we refuse at our own limit instead.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=[_PILLOW_FORMAT[fmt]]) as im:
                width, height = im.size
                if width * height > max_pixels:
                    raise Refused(str(_("This photo is too large in pixels to be processed.")))
                im.load()
                pixels = _pixels_only(im)
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Refused(str(_("This photo is too large in pixels to be processed."))) from error
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError... for damaged files
        raise Refused(str(_("This photo is damaged or incomplete and could not be read."))) from error

    if fmt == "png":
        pixels.save(target, format="PNG", optimize=False)
        result = ScrubResult(kind="image", content_type="image/png", extension="png")
    else:
        if pixels.mode != "RGB":
            pixels = _flatten(pixels)
        pixels.save(target, format="JPEG", quality=90)
        result = ScrubResult(kind="image", content_type="image/jpeg", extension="jpg")
    with Image.open(target) as check:  # what we wrote must decode whole, or nothing is kept
        check.load()
    return result


def _pixels_only(im: Image.Image) -> Image.Image:
    """A new image holding only the pixels: orientation applied, colours moved to sRGB, no info carried."""
    icc = im.info.get("icc_profile")
    oriented = ImageOps.exif_transpose(im)
    if oriented.mode not in ("RGB", "RGBA", "L", "LA"):
        oriented = oriented.convert("RGBA" if _has_alpha(oriented) else "RGB")
    if icc and oriented.mode in ("RGB", "RGBA"):
        # The profile can name the device that made it; convert to sRGB so colours survive dropping it.
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(oriented, source_profile, ImageCms.createProfile("sRGB"))
            if converted is not None:
                oriented = converted
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: keep the pixels as they are
    return Image.frombytes(oriented.mode, oriented.size, oriented.tobytes())


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info


def _flatten(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA"):
        background = Image.new("RGB", im.size, "white")
        background.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
        return background
    return im.convert("RGB")


def video_scrub(*, source: Path, target: Path) -> ScrubResult:
    """Copy the video and audio packets into a new MP4 (no re-encode) with no container or stream tags, so
    creation time, location, make and model, and data tracks (GPS telemetry) are left behind."""
    with source.open("rb") as f:
        fmt = sniff(head=f.read(32))
    if fmt not in VIDEO_FORMATS:
        raise Refused(str(_("This file is not a video we can accept (MP4 or MOV).")))
    try:
        _remux(source=source, target=target)
    except Refused:
        raise
    except Exception as error:  # PyAV raises its own errors (InvalidDataError...) and ValueError
        target.unlink(missing_ok=True)
        raise Refused(str(_("This video is damaged or incomplete and could not be read."))) from error
    return ScrubResult(kind="video", content_type="video/mp4", extension="mp4")


def _remux(*, source: Path, target: Path) -> None:
    with av.open(str(source), mode="r") as inp:
        if not inp.streams.video:
            raise Refused(str(_("This video has no picture.")))
        streams = [s for s in inp.streams if s.type in ("video", "audio")]
        with av.open(str(target), mode="w", format="mp4") as out:
            out.metadata.clear()
            mapping = {}
            for stream in streams:
                copy = out.add_stream_from_template(stream)
                copy.metadata.clear()
                mapping[stream.index] = copy
            packets = 0
            for packet in inp.demux(streams):
                if packet.dts is None:  # the flush packet demux ends with
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
                packets += 1
            if packets == 0:
                raise Refused(str(_("This video is empty.")))
