"""The bundled demo: a synthetic incident laid out as collected footage would be.

Sources repost each other's stills and clips with the transforms real reposts go through, one
file is a byte-identical repost, and a few files are bad on purpose. Built from scikit-image's
sample photos and ffmpeg's test sources; no real footage.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.io import ffmpeg
from pipeline.layout import DataLayout
from pipeline.synth import images as im
from pipeline.synth.videos import Shot, shot_frames, write_shots

INCIDENT = "demo-incident"
FACES_INCIDENT = "demo-faces"  # two portraits: faces alone prove two people
PLACEHOLDER = ".gitkeep"  # keeps the empty data folders in git; not evidence


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _sidecar(path: Path, url: str, posted_at: str, account: str) -> None:
    _write(
        path.with_name(path.name + ".json"),
        json.dumps({"url": url, "posted_at": posted_at, "account": account}, indent=2).encode(),
    )


def write_demo_collection(layout: DataLayout) -> int:
    """Write the demo incident under layout.raw; returns the number of files (0 if present)."""
    if layout.raw.is_dir() and any(
        p.is_file() and p.name != PLACEHOLDER for p in layout.raw.rglob("*")
    ):
        if (layout.raw / INCIDENT).is_dir():
            _write_annotations(layout.annotations / INCIDENT)
        return 0
    root = layout.raw / INCIDENT
    witness, telegram, news, xacc = (
        root / s for s in ("witness_upload", "telegram_channel", "news_site", "x_account")
    )
    astronaut, coffee = im.photo("astronaut"), im.photo("coffee")
    rocket, chelsea = im.photo("rocket"), im.photo("chelsea")

    original = im.jpeg_bytes(
        astronaut, 92, im.exif_block("Canon", "EOS 80D", "2024:03:01 10:20:30", 36.2021, 37.1343)
    )
    _write(witness / "IMG_0412.jpg", original)
    _write(telegram / "photo_2024-03-01.jpg", original)  # byte-identical repost
    _sidecar(
        telegram / "photo_2024-03-01.jpg",
        "https://t.me/example_channel/101",
        "2024-03-01T12:05:00Z",
        "example_channel",
    )
    _write(telegram / "astronaut_small.jpg", im.jpeg_bytes(im.resize(astronaut, 0.5), 60))
    _sidecar(
        telegram / "astronaut_small.jpg",
        "https://t.me/example_channel/102",
        "2024-03-01T13:00:00Z",
        "example_channel",
    )
    _write(
        xacc / "mirrored_watermarked.jpg",
        im.jpeg_bytes(im.watermark(im.mirror(astronaut), "@x_account"), 80),
    )
    _write(news / "coffee_letterboxed.png", im.png_bytes(im.pad(coffee, 0.15)))
    _write(xacc / "coffee_cropped.jpg", im.jpeg_bytes(im.crop(coffee, 0.10), 85))
    _write(news / "rocket.jpg", im.jpeg_bytes(rocket, 88))
    _write(news / "chelsea.png.jpg", im.png_bytes(chelsea))  # a PNG behind a .jpg name
    camera = im.photo("camera")
    _write(witness / "checkpoint.jpg", im.jpeg_bytes(camera, 90))
    _write(xacc / "checkpoint_repost.jpg", im.jpeg_bytes(im.resize(camera, 0.6), 70))
    _sidecar(
        xacc / "checkpoint_repost.jpg",
        "https://x.example/status/7",
        "2024-03-01T15:30:00Z",
        "x_account",
    )

    market = witness / "market_video.mp4"
    market.parent.mkdir(parents=True, exist_ok=True)
    write_shots(market, [Shot(astronaut, 3.0), Shot(coffee, 3.0), Shot(rocket, 3.0)])
    _sidecar(market, "", "2024-03-01T10:40:00Z", "witness")
    telegram.mkdir(parents=True, exist_ok=True)
    ffmpeg.transcode(
        market,
        telegram / "market_video_repost.mp4",
        [
            "-ss",
            "2",
            "-t",
            "6",
            "-vf",
            "scale=480:270",
            "-c:v",
            "libx264",
            "-crf",
            "34",
            "-preset",
            "veryfast",
            "-threads",
            "1",
        ],
    )
    grab = list(shot_frames(Shot(coffee, 3.0), 25.0, 640, 360))[30]
    _write(news / "frame_grab.jpg", im.jpeg_bytes(grab, 85))
    news.mkdir(parents=True, exist_ok=True)
    ffmpeg.lavfi_source(
        "testsrc2=size=640x360:rate=25:duration=5",
        news / "studio_clip.mp4",
        ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-threads", "1"],
    )
    _write(
        root / "sources.csv",
        (
            b"path,url,posted_at,account\n"
            b"news_site/rocket.jpg,https://news.example/story/1,2024-03-02T08:00:00+02:00,newsdesk\n"
            b"news_site/coffee_letterboxed.png,https://news.example/story/2,2024-03-02,newsdesk\n"
        ),
    )

    # Bad inputs: each must end as a row in rejects.csv while the rest is ingested.
    _write(xacc / "empty.jpg", b"")
    _write(xacc / "truncated.jpg", im.jpeg_bytes(chelsea, 90)[:6000])
    _write(xacc / "clip.mp4", b"This is a text note saved with a video extension.\n")
    ffmpeg.lavfi_source("sine=frequency=440:duration=2", xacc / "voice_note.m4a", ["-c:a", "aac"])
    _write_annotations(layout.annotations / INCIDENT)
    _write_faces_incident(layout.raw / FACES_INCIDENT, astronaut)
    return sum(1 for p in layout.raw.rglob("*") if p.is_file())


def _write_faces_incident(root: Path, astronaut: np.ndarray) -> None:
    """Two photos from two accounts, no analyst's input: each shows one person (the detector
    proposes 1 each) and nothing says they are different people, so the scenes alone prove
    1; their faces differ (Eileen Collins, Grace Hopper), so the faces prove 2. Grace Hopper's
    portrait ships in matplotlib (the demo extra); without it the incident is not written."""
    try:
        import matplotlib
    except ImportError:
        return
    from PIL import Image

    portrait = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    hopper = np.asarray(Image.open(portrait).convert("RGB"))
    _write(root / "witness_upload" / "hallway.jpg", im.jpeg_bytes(hopper, 90))
    _write(root / "x_account" / "gate.jpg", im.jpeg_bytes(im.crop(astronaut, 0.2), 85))


def _write_annotations(folder: Path) -> None:
    """Analysts' input showing the count's mechanics: the astronaut photo and its repost are
    annotated under two labels (dedupe proves them one scene: counted once); the launch site
    and the market are disjoint groups (summed); a disjointness declared between the
    photo and its own repost is a contradiction flagged for review. The checkpoint photo and
    its repost, annotated apart and each disjoint from another group, merge into one scene
    that closes a triangle with the courtyard and the launch site: a reviewer who rejects
    that match sees the cluster split and the minimum drop."""
    if (folder / "annotations.csv").exists():
        return
    _write(
        folder / "annotations.csv",
        (
            b"path,t_s,count,scene,note\n"
            b"witness_upload/IMG_0412.jpg,,4,courtyard,four detainees against the wall\n"
            b"telegram_channel/astronaut_small.jpg,,5,courtyard-repost,channel's copy; a fifth "
            b"person at the edge\n"
            b"news_site/rocket.jpg,,7,launch-site,seven people by the vehicle\n"
            b"witness_upload/market_video.mp4,4.0,3,market,three people at the stall\n"
            b"witness_upload/checkpoint.jpg,,2,checkpoint,two men at the checkpoint\n"
            b"x_account/checkpoint_repost.jpg,,3,checkpoint-later,the account says three\n"
        ),
    )
    _write(
        folder / "disjoint.csv",
        (
            b"scene_a,scene_b,reason\n"
            b"launch-site,market,filmed at the same hour 40 km apart (posting times and shadows)\n"
            b"courtyard,launch-site,the courtyard group was already detained when the launch-site "
            b"video was filmed\n"
            b"courtyard,courtyard-repost,witness says the repost shows another day\n"
            b"checkpoint,launch-site,the checkpoint is on the only road out; the vehicle had "
            b"not left\n"
            b"checkpoint-later,courtyard,the men at the checkpoint were seen after the courtyard "
            b"group was taken\n"
        ),
    )
