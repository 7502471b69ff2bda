"""End-to-end latency of live EmoteBot, side by side in one run: capture → null sink, capture → a page's canvas
through the browser source, and a real video with face tracking; --docs also draws the README's pictures.

    .venv/bin/python benchmarks/latency.py [--seconds 10] [--docs]

Writes benchmarks/latency.json and benchmarks/latency.md (and, with --docs, docs/browser_source.png and
docs/vcam_frame.png). Needs Chromium for the browser rows (the same headless driver as the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avatar.app import build_pipeline  # noqa: E402 (after the path set-up above)
from avatar.config import AppConfig  # noqa: E402
from avatar.output.sinks.convert import checkerboard  # noqa: E402
from tests.integration.test_browser_cdp import Chromium, chromium  # noqa: E402

FIXTURE_VIDEO = REPO.parent / "shared" / "fixtures" / "videos" / "lp_d9.mp4"
W, H = 1280, 720

# Samples the page's own latency figure (capture → drawn on its canvas) once per drawn frame.
SAMPLER = """window.__lat = []; (() => { let seen = 0; setInterval(() => { const s = window.emotebot;
  if (s && s.frames !== seen) { seen = s.frames; if (seen > 5) window.__lat.push(s.latencyMs); } }, 2); })(); true"""


def config(source: str, sinks: tuple[str, ...], seconds: float, size: tuple[int, int] = (W, H)) -> AppConfig:
    return (AppConfig().override("source", source=source, realtime=True, loop=True)
            .override("compositor", width=size[0], height=size[1])
            .override("output", sinks=sinks).override("pipeline", duration_s=seconds))


def percentiles(samples_ms: list[float] | np.ndarray) -> dict[str, float]:
    a = np.asarray(samples_ms, dtype=np.float64)
    return {f"p{q}": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)} if a.size else {}


def summary(stats) -> dict[str, object]:  # stats: avatar.stats.RunStats
    e2e = np.array(stats.series.get("end_to_end", [])) * 1000.0
    # The stages' own time per frame (decoding, tracking, drawing, the sink), without waiting in slots.
    work = np.array(stats.series.get("work", [])) * 1000.0
    return {"fps": round(stats.fps, 1), "frames": stats.frames_out, "dropped": stats.frames_dropped,
            "end_to_end_ms": percentiles(e2e), "work_ms": percentiles(work)}


def run_paced(source: str, sinks: tuple[str, ...], seconds: float, browser: Chromium | None = None,
              size: tuple[int, int] = (W, H)) -> dict:
    """One paced run; with `browser`, a page watches the browser source and reports what it drew."""
    with ExitStack() as stack:
        pipeline = build_pipeline(config(source, sinks, seconds, size), None, stack)
        page = None
        if browser is not None:
            page = browser.open(f"http://127.0.0.1:{pipeline.sinks[0].port}/")
            browser.wait_for(page, "window.emotebot !== undefined")
            browser.evaluate(page, SAMPLER)
        stats = pipeline.run()
        result = summary(stats)
        if browser is not None and page is not None:
            drawn = browser.evaluate(page, "window.__lat")
            result["drawn_frames"] = len(drawn)
            result["capture_to_canvas_ms"] = percentiles(drawn)
    return result


def browser_picture(browser: Chromium, out: Path) -> None:
    """A screenshot of the browser source (its real transparency) laid over a checkerboard."""
    width, height = 640, 360
    cfg = (config("script", ("browser:0",), 60).override("compositor", width=width, height=height))
    with ExitStack() as stack:
        pipeline = build_pipeline(cfg, None, stack)
        thread = threading.Thread(target=pipeline.run, daemon=True)
        thread.start()
        page = browser.open(f"http://127.0.0.1:{pipeline.sinks[0].port}/")
        browser.wait_for(page, "window.emotebot && window.emotebot.frames > 20")
        time.sleep(1.5)  # into the performance: a turned head and an expression
        png = browser.screenshot_png(page, width, height)
        pipeline.stop()
        thread.join(10)
    shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED).astype(np.float32)  # BGRA
    alpha = shot[..., 3:] / 255.0
    board = checkerboard(width, height).astype(np.float32)
    cv2.imwrite(str(out), (shot[..., :3] * alpha + board * (1.0 - alpha)).round().astype(np.uint8))


def vcam_picture(out: Path) -> None:
    """A frame exactly as a virtual camera receives it (RGB, chroma green for transparency), via the
    in-memory pyvirtualcam back end the tests use."""
    import pyvirtualcam

    from tests.memory_vcam import MemoryCamera

    pyvirtualcam.register_backend("emotebot-memory", MemoryCamera)
    MemoryCamera.received = []
    cfg = config("script", ("vcam",), 0).override("output", vcam_backend="emotebot-memory") \
        .override("pipeline", max_frames=75).override("compositor", width=640, height=360)
    with ExitStack() as stack:
        build_pipeline(cfg, None, stack).run()
    rgb = MemoryCamera.received[-1][1].reshape(360, 640, 3)
    cv2.imwrite(str(out), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def markdown(results: dict) -> str:
    rows = ["| run | fps | capture → output p50 / p95 / p99 ms | stages' own time p50 ms "
            "| capture → page canvas p50 / p95 / p99 ms |", "|---|---|---|---|---|"]
    for name, r in results["runs"].items():
        e = r["end_to_end_ms"]
        c = r.get("capture_to_canvas_ms")
        canvas = f"{c['p50']} / {c['p95']} / {c['p99']}" if c else "–"
        rows.append(f"| {name} | {r['fps']} | {e['p50']} / {e['p95']} / {e['p99']} | {r['work_ms']['p50']} "
                    f"| {canvas} |")
    return (f"# Latency ({results['machine']}, {W}×{H} unless named, {results['seconds']} s per run)\n\n"
            + "\n".join(rows) + "\n\nReproduce: `.venv/bin/python benchmarks/latency.py`\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--docs", action="store_true", help="also write docs/browser_source.png and docs/vcam_frame.png")
    args = p.parse_args()
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary is None:
        sys.exit("latency.py needs Chromium for the browser rows: sudo apt install chromium")
    runs: dict[str, dict] = {}
    load_before = os.getloadavg()[0]
    with chromium(binary) as browser:
        runs["script → null"] = run_paced("script", ("null",), args.seconds)
        runs["script → browser + null"] = run_paced("script", ("browser:0", "null"), args.seconds, browser)
        if FIXTURE_VIDEO.is_file():  # a real face: tracking is part of the path
            runs["video (tracked) → null"] = run_paced(str(FIXTURE_VIDEO), ("null",), args.seconds)
            runs["video (tracked) → browser + null"] = run_paced(str(FIXTURE_VIDEO), ("browser:0", "null"),
                                                                 args.seconds, browser)
            runs["video (tracked) → null, 640×360"] = run_paced(str(FIXTURE_VIDEO), ("null",), args.seconds,
                                                               size=(640, 360))
        runs["script → null, 640×360"] = run_paced("script", ("null",), args.seconds, size=(640, 360))
        if args.docs:
            browser_picture(browser, REPO / "docs" / "browser_source.png")
    if args.docs:
        vcam_picture(REPO / "docs" / "vcam_frame.png")
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average "
               f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after")
    results = {"machine": machine, "seconds": args.seconds, "runs": runs}
    (REPO / "benchmarks" / "latency.json").write_text(json.dumps(results, indent=2) + "\n")
    (REPO / "benchmarks" / "latency.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
