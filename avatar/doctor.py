"""`emotebot doctor`: checks what `emotebot run` needs on this machine and says how to fix each problem."""

from __future__ import annotations

import enum
import importlib
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avatar.capture.base import SourceKind
from avatar.config import AppConfig
from avatar.errors import ModelError
from avatar.models import MODELS, engines_dir, file_sha256
from avatar.output.browser.sink import parse_port
from avatar.output.sinks.base import SinkKind, parse_sink_spec
from avatar.output.sinks.vcam import LINUX_SETUP, setup_help
from avatar.output.sinks.window import display_available
from avatar.runtime.manifest import SHIPPED_ENGINES, read_manifest, verified_path

PORTAUDIO_FIX = {
    "Linux": "sudo apt install libportaudio2 (Fedora: sudo dnf install portaudio), then run EmoteBot again",
    "Darwin": "reinstall sounddevice (pip install --force-reinstall sounddevice): its wheel bundles PortAudio",
    "Windows": "reinstall sounddevice (pip install --force-reinstall sounddevice): its wheel bundles PortAudio",
}
_PACKAGES = ("mediapipe", "cv2", "numpy", "pyvirtualcam", "onnxruntime")


class Status(enum.Enum):
    OK = "ok"
    INFO = "info"  # a fact worth knowing; nothing to fix
    WARN = "warn"  # works, but something (a feature, an app) will not
    FAIL = "FAIL"  # broken


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, what was found and, unless it is fine, what to do."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    blocks_run: bool = False  # `emotebot run` with the checked settings fails because of this


@dataclass(frozen=True)
class Needs:
    """What a run with a given configuration needs from the machine."""

    camera: bool
    virtual_camera: bool
    display: bool
    engine: str
    browser_ports: tuple[int, ...] = ()  # ports the browser source will listen on

    @classmethod
    def of(cls, config: AppConfig) -> Needs:
        kinds = {parse_sink_spec(s).kind for s in config.output.sinks}
        specs = [parse_sink_spec(s) for s in config.output.sinks]
        ports = tuple(parse_port(s.target) for s in specs if s.kind is SinkKind.BROWSER)
        return cls(camera=config.source.kind is SourceKind.CAMERA, virtual_camera=SinkKind.VCAM in kinds,
                   display=SinkKind.WINDOW in kinds, engine=config.engine.engine, browser_ports=ports)


# --- packages ------------------------------------------------------------------------------------------------

def check_packages() -> Check:
    found, broken = [], []
    for name in _PACKAGES:
        try:
            module = importlib.import_module(name)
            found.append(f"{'opencv' if name == 'cv2' else name} {getattr(module, '__version__', '?')}")
        except Exception as e:  # a broken install raises anything from ImportError to OSError
            broken.append(f"{name} ({type(e).__name__}: {e})")
    if broken:
        return Check("packages", Status.FAIL, "cannot import " + "; ".join(broken),
                     "reinstall EmoteBot in a fresh environment: ./dev test (or pip install -e .)", True)
    return Check("packages", Status.OK, ", ".join(found))


# --- cameras -------------------------------------------------------------------------------------------------

def linux_cameras(sys_root: Path = Path("/sys")) -> list[tuple[str, str]]:
    """(device, name) of the capture devices sysfs lists, loopback (virtual) cameras left out."""
    found = []
    for dev in sorted((sys_root / "class" / "video4linux").glob("video*")):
        try:
            name = (dev / "name").read_text().strip()
        except OSError:
            continue
        if not is_loopback(dev, name):
            found.append((f"/dev/{dev.name}", name))
    return found


def is_loopback(dev: Path, name: str) -> bool:
    """v4l2loopback devices are virtual (no hardware behind them); unlabelled ones are "Dummy video device"."""
    driver = dev / "device" / "driver"
    return ("loopback" in name.lower() or name == "EmoteBot" or name.startswith("Dummy video device")
            or "/devices/virtual/" in str(dev.resolve()) or (driver.exists() and "loopback" in driver.resolve().name))


def check_camera(needs: Needs, source: str, cameras: list[tuple[str, str]] | None,
                 opens: Callable[[str], bool]) -> Check:
    """`cameras` is what Linux lists (None elsewhere); `opens(source)` tries the configured camera."""
    fix = ("plug in a webcam, close other apps that use it, and see `emotebot devices`; without a camera, "
           "try `emotebot demo` or `emotebot run --source clip.mp4`")
    if not needs.camera:
        return Check("camera", Status.INFO, f"not needed: the source is {source!r}")
    if cameras is not None and not cameras:
        return Check("camera", Status.FAIL, "no camera found", fix, True)
    listed = ", ".join(f"{d} {n}" for d, n in cameras or [])
    if not opens(source):
        return Check("camera", Status.FAIL, f"camera {source!r} does not open" + (f" (found: {listed})" if listed
                     else ""), fix + "; pick another with --source N", True)
    return Check("camera", Status.OK, f"camera {source!r} opens" + (f" (found: {listed})" if listed else ""))


def camera_opens(source: str) -> bool:
    """Whether OpenCV opens the camera and reads a frame from it."""
    import cv2

    from avatar.capture.camera import resolve_camera
    from avatar.errors import SourceError

    try:
        target = resolve_camera(source)
    except SourceError:
        return False
    level = cv2.getLogLevel()
    cv2.setLogLevel(0)  # silent: OpenCV's messages about a missing camera would read like a crash
    cap = cv2.VideoCapture(target)
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()
        cv2.setLogLevel(level)


# --- microphone ----------------------------------------------------------------------------------------------

def check_microphone(system: str) -> Check:
    """PortAudio loads and there is a default input device (the microphone serves spoken triggers)."""
    try:
        import sounddevice as sd
    except OSError as e:
        return Check("microphone", Status.WARN, f"PortAudio is missing ({e}): no spoken triggers",
                     PORTAUDIO_FIX.get(system, "install the PortAudio library"))
    except ImportError as e:
        return Check("microphone", Status.WARN, f"sounddevice is not installed ({e})", "pip install sounddevice")
    try:
        mic = sd.query_devices(kind="input")
    except Exception as e:  # sounddevice raises PortAudioError (not exported before it loads) when none is there
        return Check("microphone", Status.WARN, f"no microphone (PortAudio: {e}): spoken triggers are off",
                     "plug in a microphone (or allow this terminal to use it in the system's privacy "
                     "settings); typed words and hotkeys work without one")
    return Check("microphone", Status.OK, f"{mic['name']} ({mic['default_samplerate']:.0f} Hz, PortAudio "
                 f"{sd.get_portaudio_version()[1]})")


# --- virtual camera ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoopbackFacts:
    """What Linux says about v4l2loopback: module, devices, their settings and whether we may write."""

    module_loaded: bool
    devices: tuple[tuple[str, str], ...]  # (/dev/videoN, card label)
    exclusive_caps: tuple[bool, ...] | None  # per device in creation order; None when unreadable
    writable: tuple[bool, ...]  # per device


def read_loopback_facts(sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")) -> LoopbackFacts:
    module = sys_root / "module" / "v4l2loopback"
    devices = []
    for dev in sorted((sys_root / "class" / "video4linux").glob("video*"), key=lambda p: _number(p.name)):
        try:
            name = (dev / "name").read_text().strip()
        except OSError:
            continue
        if is_loopback(dev, name):
            devices.append((f"/dev/{dev.name}", name))
    try:
        text = (module / "parameters" / "exclusive_caps").read_text().strip()
        caps: tuple[bool, ...] | None = tuple(v.strip().upper() in ("Y", "1") for v in text.split(",") if v.strip())
    except OSError:
        caps = None
    writable = tuple(os.access(dev_root / Path(d).name, os.W_OK) for d, _ in devices)
    return LoopbackFacts(module.is_dir(), tuple(devices), caps, writable)


def _number(name: str) -> int:
    digits = "".join(c for c in name if c.isdigit())
    return int(digits) if digits else 0


def _missing(needs: Needs) -> Status:
    """A missing virtual camera fails a run that uses one; otherwise it is only a warning (calls need it)."""
    return Status.FAIL if needs.virtual_camera else Status.WARN


def check_v4l2loopback(needs: Needs, facts: LoopbackFacts) -> list[Check]:
    blocks = needs.virtual_camera
    if not facts.module_loaded or not facts.devices:
        what = "v4l2loopback is not loaded" if not facts.module_loaded else "v4l2loopback has no device"
        return [Check("virtual camera", _missing(needs), what, LINUX_SETUP, blocks)]
    listed = ", ".join(f"{d} ({n})" for d, n in facts.devices)
    checks = []
    denied = [d for (d, _), ok in zip(facts.devices, facts.writable, strict=True) if not ok]
    if len(denied) == len(facts.devices):
        checks.append(Check("virtual camera", _missing(needs), f"{listed}: no permission to write",
                            "sudo usermod -aG video $USER, then log out and in again", blocks))
    else:
        checks.append(Check("virtual camera", Status.OK, listed))
    caps = facts.exclusive_caps
    fix = ("reload it with exclusive_caps=1: sudo modprobe -r v4l2loopback && "
           "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=EmoteBot")
    if caps is None:
        checks.append(Check("exclusive_caps", Status.WARN, "cannot read v4l2loopback's exclusive_caps setting",
                            "if Chrome or Meet do not list the camera: " + fix))
    elif not all(caps[: len(facts.devices)]) or len(caps) < len(facts.devices):
        off = [d for i, (d, _) in enumerate(facts.devices) if i >= len(caps) or not caps[i]]
        checks.append(Check("exclusive_caps", Status.WARN, f"off for {', '.join(off)}: Chrome, Meet and "
                            "Zoom in the browser will not list it as a camera", fix))
    else:
        checks.append(Check("exclusive_caps", Status.OK, "on: browsers list the virtual camera"))
    return checks


def check_other_virtual_camera(needs: Needs, system: str, backends: Sequence[str],
                               opens: Callable[[str], str | None]) -> Check:
    """Windows and macOS: OBS Virtual Camera (or Unity Capture) must take a frame; `opens` returns the error."""
    if not backends:
        return Check("virtual camera", _missing(needs), f"pyvirtualcam has no back end on {system}",
                     setup_help(system), needs.virtual_camera)
    errors = []
    for name in backends:
        error = opens(name)
        if error is None:
            return Check("virtual camera", Status.OK, f"{name} opens")
        errors.append(f"{name}: {error}")
    return Check("virtual camera", _missing(needs), "; ".join(errors), setup_help(system), needs.virtual_camera)


def vcam_backend_error(backend: str) -> str | None:
    """Open and close the back end's camera once; the reason it failed, or None."""
    import pyvirtualcam

    try:
        with pyvirtualcam.Camera(640, 480, 30, backend=backend):
            return None
    except RuntimeError as e:
        return str(e).strip() or "failed"


# --- GPU, models, display ------------------------------------------------------------------------------------

def check_gpu(needs: Needs) -> Check:
    """An NVIDIA GPU and TensorRT make the neural generator fast; the reference engine needs neither."""
    gpus = []
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=10, check=False)
            gpus = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            gpus = []
    try:
        import onnxruntime

        providers = [p.removesuffix("ExecutionProvider") for p in onnxruntime.get_available_providers()]
    except Exception:  # onnxruntime missing or broken: the packages check reports it
        providers = []
    trt = importlib.util.find_spec("tensorrt") is not None
    detail = (f"GPU: {', '.join(gpus) or 'no NVIDIA GPU'}; ONNX Runtime: {', '.join(providers) or 'none'}; "
              f"TensorRT: {'installed' if trt else 'not installed'}")
    if needs.engine == "tensorrt" and not (gpus and trt):
        return Check("gpu", Status.FAIL, detail, "the tensorrt engine needs an NVIDIA GPU and "
                     "pip install emotebot[tensorrt]; or use --engine onnx", True)
    if gpus and not trt:
        return Check("gpu", Status.INFO, detail + " (pip install emotebot[tensorrt] for the fastest generator)")
    return Check("gpu", Status.INFO if not gpus else Status.OK, detail)


def check_models(needs: Needs, engines_dir: Path = SHIPPED_ENGINES) -> Check:
    """Every model engines/manifest.json lists exists and matches its sha256 and rig version."""
    blocks = needs.engine not in ("reference", "auto")  # auto falls back to the studio renderer
    fix = "restore engines/ from the EmoteBot repository (git checkout engines/); --engine reference needs none"
    try:
        names = list(read_manifest(engines_dir))
    except ModelError as e:
        return Check("models", Status.FAIL, str(e), fix, blocks)
    if not names:
        return Check("models", Status.INFO, "no model files shipped yet: the reference engine (the studio "
                     "renderer) draws EmoteBot", "", blocks)
    good, problems = [], []
    for name in names:
        try:
            entry, _ = verified_path(name, engines_dir)
            good.append(f"{name} ({entry.file}, sha256 ok)")
        except ModelError as e:
            problems.append(f"{name}: {e}")
    if problems:
        return Check("models", Status.FAIL, "; ".join(problems), fix, blocks)
    return Check("models", Status.OK, ", ".join(good))


def check_downloads(folder: Path | None = None) -> list[Check]:
    """Optional models a user may download (the Face Landmarker bundle): present and intact, or how to get it."""
    folder = folder or engines_dir()
    checks = []
    for spec in MODELS.values():
        path = folder / spec.filename
        if not path.is_file():
            checks.append(Check(spec.name, Status.INFO, f"not downloaded (optional): {spec.about}",
                                f"emotebot models fetch {spec.name}"))
        elif file_sha256(path) != spec.sha256:
            checks.append(Check(spec.name, Status.WARN, f"{path} does not match its pinned sha256: not used",
                                f"delete it and run: emotebot models fetch {spec.name}"))
        else:
            checks.append(Check(spec.name, Status.OK, f"{path} (sha256 ok)"))
    return checks


def check_display(needs: Needs) -> Check:
    if display_available():
        return Check("display", Status.OK, "a preview window can open")
    fix = ("use --sink vcam, browser or file:out.mp4 instead of window, or run inside a desktop session (on "
           "Wayland, OpenCV's window needs XWayland and DISPLAY)")
    return Check("display", Status.FAIL if needs.display else Status.INFO, "no display for a preview window",
                 fix if needs.display else "", needs.display)


def check_browser_ports(needs: Needs) -> list[Check]:
    """The browser source's port must be free on 127.0.0.1."""
    checks = []
    for port in needs.browser_ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                checks.append(Check("browser source", Status.FAIL, f"port {port} is taken ({e.strerror or e})",
                                    f"stop the program using it, or use --sink browser:{port + 1}", True))
                continue
        checks.append(Check("browser source", Status.OK, f"port {port} is free: http://127.0.0.1:{port}/"))
    return checks


# --- all together --------------------------------------------------------------------------------------------

def run_checks(config: AppConfig, system: str | None = None) -> list[Check]:
    """Every check, for the run `config` describes, on this machine."""
    system = system or platform.system()
    needs = Needs.of(config)
    checks = [check_packages()]
    cameras = linux_cameras() if system == "Linux" else None
    checks.append(check_camera(needs, config.source.source, cameras, camera_opens))
    checks.append(check_microphone(system))
    if system == "Linux":
        checks += check_v4l2loopback(needs, read_loopback_facts())
    else:
        from pyvirtualcam.camera import BACKENDS

        checks.append(check_other_virtual_camera(needs, system, list(BACKENDS), vcam_backend_error))
    checks += [check_gpu(needs), check_models(needs), *check_downloads(), check_display(needs),
               *check_browser_ports(needs)]
    return checks


def format_report(checks: Sequence[Check], config: AppConfig) -> str:
    """One line per check, the fix under each problem, and a verdict on `emotebot run`."""
    run = f"`emotebot run` (source {config.source.source} → {', '.join(config.output.sinks)})"
    lines = [f"EmoteBot doctor: what {run} needs"]
    for c in checks:
        lines.append(f"[{c.status.value:^4}] {c.name}: {c.detail}")
        if c.fix and c.status is not Status.OK:
            lines.append(f"       fix: {c.fix}")
    blocking = [c.name for c in checks if c.blocks_run and c.status is Status.FAIL]
    if blocking:
        lines.append(f"{run} will not work until the FAIL lines above are fixed ({', '.join(blocking)}), or "
                     "with other settings, e.g. `emotebot run --source clip.mp4 --sink file:out.mp4`")
    else:
        lines.append(f"{run} should work.")
    return "\n".join(lines)


def run_will_work(checks: Sequence[Check]) -> bool:
    return not any(c.blocks_run and c.status is Status.FAIL for c in checks)
