"""Attachments are judged by their bytes and come out with nothing but pixels (images) or packets (videos)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from tips.scrub import Refused, image_scrub, sniff, video_scrub


def _exif_with_gps(*, orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (40.0, 25.0, 1.5), 3: "W", 4: (3.0, 42.0, 7.0)}  # GPSInfo
    return exif


def jpeg_with_gps(path: Path, *, size: tuple[int, int] = (10, 20), orientation: int = 1) -> Path:
    Image.new("RGB", size, (200, 30, 30)).save(
        path, format="JPEG", exif=_exif_with_gps(orientation=orientation), comment=b"shot at home"
    )
    return path


def _xmp_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="JPEG", exif=_exif_with_gps())
    data = buffer.getvalue()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><exif:GPSLatitude>40,25N</exif:GPSLatitude></x:xmpmeta>"
    segment = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    path.write_bytes(data[:2] + segment + data[2:])
    return path


def _assert_no_metadata(path: Path) -> None:
    data = path.read_bytes()
    with Image.open(path) as im:
        assert len(im.getexif()) == 0
        assert "exif" not in im.info and "xmp" not in im.info and "comment" not in im.info
    for marker in (b"Exif", b"GPS", b"xmpmeta", b"http://ns.adobe.com", b"PhoneMaker", b"shot at home"):
        assert marker not in data


def test_sniff_reads_magic_bytes_not_names() -> None:
    assert sniff(head=b"\xff\xd8\xff\xe0\x00\x10JFIF") == "jpeg"
    assert sniff(head=b"\x89PNG\r\n\x1a\n\x00\x00") == "png"
    assert sniff(head=b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff(head=b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "heic"
    assert sniff(head=b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00") == "mp4"
    assert sniff(head=b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00") == "mov"
    assert sniff(head=b"MZ\x90\x00\x03\x00") is None  # a Windows program
    assert sniff(head=b"<!DOCTYPE html><html>") is None
    assert sniff(head=b"") is None


def test_a_jpeg_with_gps_comes_out_with_no_exif_at_all(tmp_path: Path) -> None:
    source = jpeg_with_gps(tmp_path / "in.jpg")
    result = image_scrub(source=source, target=tmp_path / "out")
    assert (result.content_type, result.extension) == ("image/jpeg", "jpg")
    _assert_no_metadata(tmp_path / "out")


def test_xmp_in_a_jpeg_is_removed(tmp_path: Path) -> None:
    source = _xmp_jpeg(tmp_path / "in.jpg")
    assert b"xmpmeta" in source.read_bytes()
    image_scrub(source=source, target=tmp_path / "out")
    _assert_no_metadata(tmp_path / "out")


def test_orientation_is_applied_before_it_is_dropped(tmp_path: Path) -> None:
    source = jpeg_with_gps(tmp_path / "in.jpg", size=(10, 20), orientation=6)
    image_scrub(source=source, target=tmp_path / "out")
    with Image.open(tmp_path / "out") as im:
        assert im.size == (20, 10)


def test_a_png_keeps_png_and_loses_its_text_chunks(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 40.4N 3.7W")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta/>")
    Image.new("RGBA", (6, 6), (0, 0, 0, 0)).save(tmp_path / "in.png", pnginfo=info, exif=_exif_with_gps())
    result = image_scrub(source=tmp_path / "in.png", target=tmp_path / "out")
    assert result.content_type == "image/png"
    data = (tmp_path / "out").read_bytes()
    assert b"tEXt" not in data and b"iTXt" not in data and b"eXIf" not in data
    _assert_no_metadata(tmp_path / "out")
    with Image.open(tmp_path / "out") as im:
        assert im.mode == "RGBA"


def test_a_webp_becomes_a_clean_jpeg(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), "green").save(tmp_path / "in.webp", format="WEBP", exif=_exif_with_gps())
    result = image_scrub(source=tmp_path / "in.webp", target=tmp_path / "out")
    assert result.content_type == "image/jpeg"
    _assert_no_metadata(tmp_path / "out")


def test_a_heic_becomes_a_clean_jpeg(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    pillow_heif.register_heif_opener()
    try:
        Image.new("RGB", (16, 16), "red").save(tmp_path / "in.heic", exif=_exif_with_gps())
    except Exception as error:  # pragma: no cover - depends on the wheel's encoder
        pytest.skip(f"pillow-heif cannot write HEIC here: {error}")
    assert sniff(head=(tmp_path / "in.heic").read_bytes()[:32]) == "heic"
    result = image_scrub(source=tmp_path / "in.heic", target=tmp_path / "out")
    assert result.content_type == "image/jpeg"
    _assert_no_metadata(tmp_path / "out")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(Refused, match="not a photo"):
        image_scrub(source=tmp_path / "empty.jpg", target=tmp_path / "out")


def test_a_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "whole.jpg", quality=95)
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(Refused, match="damaged or incomplete"):
        image_scrub(source=tmp_path / "cut.jpg", target=tmp_path / "out")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_decompression_bomb_png_is_refused_without_decoding_it(tmp_path: Path) -> None:
    # A few hundred bytes declaring 100 000 x 100 000 pixels.
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + _png_chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(Refused, match="too large in pixels"):
        image_scrub(source=tmp_path / "bomb.png", target=tmp_path / "out")


def test_a_jpeg_with_a_zip_appended_comes_out_without_the_zip(tmp_path: Path) -> None:
    source = jpeg_with_gps(tmp_path / "in.jpg")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.html", "<script>alert(1)</script>")
    source.write_bytes(source.read_bytes() + archive.getvalue())
    assert zipfile.is_zipfile(source)
    image_scrub(source=source, target=tmp_path / "out")
    data = (tmp_path / "out").read_bytes()
    assert not zipfile.is_zipfile(tmp_path / "out")
    assert b"PK\x03\x04" not in data and b"payload.html" not in data


def test_a_file_whose_magic_and_decoded_format_disagree_is_refused(tmp_path: Path) -> None:
    # Starts like a JPEG, but is a GIF underneath: built to be read two ways.
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    (tmp_path / "two.jpg").write_bytes(b"\xff\xd8\xff" + gif.getvalue())
    with pytest.raises(Refused):
        image_scrub(source=tmp_path / "two.jpg", target=tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", b"just some text pretending to be a photo\n"),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64),
        ("photo.png", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
    ],
)
def test_files_that_are_not_photos_are_refused_whatever_their_name(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(Refused, match="not a photo"):
        image_scrub(source=tmp_path / name, target=tmp_path / "out")
    with pytest.raises(Refused, match="not a video"):
        video_scrub(source=tmp_path / name, target=tmp_path / "out.mp4")


def make_video(path: Path, *, fmt: str, audio: bool = True) -> Path:
    """A short H.264 clip tagged like a phone would tag it."""
    with av.open(str(path), mode="w", format=fmt) as out:
        out.metadata.update(
            {"title": "at home", "creation_time": "2026-11-20T10:00:00Z", "location": "+40.4168-003.7038/"}
        )
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.metadata["handler_name"] = "Phone Model X"
        sound = out.add_stream("aac", rate=8000) if audio else None
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, dtype=np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            samples = np.zeros((1, 1024), dtype=np.float32)
            for i in range(8):
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 8000, i * 1024, Fraction(1, 8000)
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


def _packets(path: Path) -> list[tuple[str, bytes]]:
    with av.open(str(path)) as container:
        return [(p.stream.type, bytes(p)) for p in container.demux() if p.size]


@pytest.mark.parametrize(("fmt", "name"), [("mp4", "in.mp4"), ("mov", "in.mov")])
def test_a_video_is_remuxed_without_its_tags_and_without_reencoding(tmp_path: Path, fmt: str, name: str) -> None:
    source = make_video(tmp_path / name, fmt=fmt)
    with av.open(str(source)) as container:
        assert container.metadata.get("title") == "at home"
    result = video_scrub(source=source, target=tmp_path / "out.mp4")
    assert (result.kind, result.content_type) == ("video", "video/mp4")
    with av.open(str(tmp_path / "out.mp4")) as container:
        tags = dict(container.metadata)
        for stream in container.streams:
            tags.update({f"{stream.index}:{k}": v for k, v in stream.metadata.items()})
    assert not {"title", "creation_time", "location", "location-eng"} & set(tags)
    assert "Phone Model X" not in tags.values() and "at home" not in tags.values()
    data = (tmp_path / "out.mp4").read_bytes()
    assert b"at home" not in data and b"+40.4168" not in data and b"\xa9xyz" not in data
    assert _packets(tmp_path / "out.mp4") == _packets(source)


def test_a_video_without_pictures_is_refused(tmp_path: Path) -> None:
    with av.open(str(tmp_path / "sound.mp4"), mode="w", format="mp4") as out:
        sound = out.add_stream("aac", rate=8000)
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 8000, i * 1024, Fraction(1, 8000)
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    with pytest.raises(Refused, match="no picture"):
        video_scrub(source=tmp_path / "sound.mp4", target=tmp_path / "out.mp4")


def test_a_truncated_video_is_refused(tmp_path: Path) -> None:
    source = make_video(tmp_path / "in.mp4", fmt="mp4")
    data = source.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:200])
    with pytest.raises(Refused, match="damaged or incomplete"):
        video_scrub(source=tmp_path / "cut.mp4", target=tmp_path / "out.mp4")


def test_a_colour_profile_is_applied_then_dropped(tmp_path: Path) -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(tmp_path / "in.jpg", icc_profile=profile)
    image_scrub(source=tmp_path / "in.jpg", target=tmp_path / "out")
    with Image.open(tmp_path / "out") as im:
        assert "icc_profile" not in im.info
        r, g, b = im.getpixel((4, 4))  # type: ignore[misc]
        assert abs(r - 10) < 8 and abs(g - 120) < 8 and abs(b - 200) < 8
