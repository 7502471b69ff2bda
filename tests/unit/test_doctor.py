"""`emotebot doctor`: each check on made-up machines, and the real command on this one."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from avatar.config import AppConfig
from avatar.doctor import (
    Check,
    LoopbackFacts,
    Needs,
    Status,
    camera_opens,
    check_camera,
    check_models,
    check_other_virtual_camera,
    check_v4l2loopback,
    format_report,
    linux_cameras,
    read_loopback_facts,
    run_will_work,
)
from avatar.expression.rig import RIG_VERSION
from avatar.output.sinks.vcam import setup_help
from tests.conftest import REPO

DEFAULT = Needs.of(AppConfig())  # camera 0 → vcam + window
OFFLINE = Needs(camera=False, virtual_camera=False, display=False, engine="reference")


def fake_sys(root: Path, devices: dict[str, str], caps: str | None, loaded: bool = True) -> Path:
    """A /sys tree with video4linux devices (name per videoN) and, if loaded, v4l2loopback's parameters."""
    for dev, name in devices.items():
        (root / "class" / "video4linux" / dev).mkdir(parents=True)
        (root / "class" / "video4linux" / dev / "name").write_text(name + "\n")
    if loaded:
        (root / "module" / "v4l2loopback" / "parameters").mkdir(parents=True)
        if caps is not None:
            (root / "module" / "v4l2loopback" / "parameters" / "exclusive_caps").write_text(caps + "\n")
    return root


def test_needs_follow_the_configuration() -> None:
    assert Needs.of(AppConfig()) == Needs(camera=True, virtual_camera=True, display=True, engine="auto")
    config = AppConfig().override("source", source="script").override("output", sinks=("browser:9000", "null"))
    assert Needs.of(config) == Needs(False, False, False, "auto", (9000,))


def test_loopback_facts_are_read_from_sysfs(tmp_path: Path) -> None:
    sys_root = fake_sys(tmp_path / "sys", {"video0": "Integrated Camera", "video10": "EmoteBot",
                                           "video11": "Dummy video device (0x0001)"}, "Y,N,N,N,N,N,N,N")
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "video10").touch()
    (dev / "video11").touch()
    facts = read_loopback_facts(sys_root, dev)
    assert facts.module_loaded
    assert facts.devices == (("/dev/video10", "EmoteBot"), ("/dev/video11", "Dummy video device (0x0001)"))
    assert facts.exclusive_caps == (True, False, False, False, False, False, False, False)
    assert facts.writable == (True, True)
    assert linux_cameras(sys_root) == [("/dev/video0", "Integrated Camera")]  # loopbacks are not cameras


def test_exclusive_caps_off_is_a_warning_with_the_modprobe_line() -> None:
    facts = LoopbackFacts(True, (("/dev/video10", "EmoteBot"), ("/dev/video11", "x loopback")), (True, False),
                          (True, True))
    device, caps = check_v4l2loopback(DEFAULT, facts)
    assert device.status is Status.OK
    assert caps.status is Status.WARN and "/dev/video11" in caps.detail and "/dev/video10" not in caps.detail
    assert "exclusive_caps=1" in caps.fix and not caps.blocks_run


def test_exclusive_caps_on_is_fine() -> None:
    facts = LoopbackFacts(True, (("/dev/video10", "EmoteBot"),), (True, False, False), (True,))
    assert [c.status for c in check_v4l2loopback(DEFAULT, facts)] == [Status.OK, Status.OK]


def test_no_v4l2loopback_fails_a_run_that_needs_it_and_warns_otherwise() -> None:
    facts = LoopbackFacts(False, (), None, ())
    [needed] = check_v4l2loopback(DEFAULT, facts)
    assert needed.status is Status.FAIL and needed.blocks_run
    assert "modprobe v4l2loopback devices=1 exclusive_caps=1" in needed.fix
    [optional] = check_v4l2loopback(OFFLINE, facts)
    assert optional.status is Status.WARN and not optional.blocks_run


def test_a_device_we_may_not_write_names_the_video_group() -> None:
    facts = LoopbackFacts(True, (("/dev/video10", "EmoteBot"),), (True,), (False,))
    device = check_v4l2loopback(DEFAULT, facts)[0]
    assert device.status is Status.FAIL and "usermod -aG video" in device.fix


def test_obs_virtual_camera_on_windows_and_macos() -> None:
    ok = check_other_virtual_camera(DEFAULT, "Windows", ["obs", "unitycapture"],
                                    lambda b: None if b == "unitycapture" else "not installed")
    assert ok.status is Status.OK and "unitycapture" in ok.detail
    failed = check_other_virtual_camera(DEFAULT, "Darwin", ["obs"], lambda b: "OBS Virtual Camera not started")
    assert failed.status is Status.FAIL and failed.blocks_run and failed.fix == setup_help("Darwin")
    assert "not started" in failed.detail


def test_camera_check() -> None:
    assert check_camera(DEFAULT, "0", [], lambda s: True).status is Status.FAIL
    busy = check_camera(DEFAULT, "0", [("/dev/video0", "Cam")], lambda s: False)
    assert busy.status is Status.FAIL and "Cam" in busy.detail and busy.fix
    assert check_camera(DEFAULT, "0", None, lambda s: True).status is Status.OK
    assert check_camera(OFFLINE, "clip.mp4", [], lambda s: False).status is Status.INFO


def write_manifest(engines: Path, data: bytes, digest: str) -> None:
    engines.mkdir()
    (engines / "generator.onnx").write_bytes(data)
    tensor = {"name": "code", "shape": ["batch", 21], "dtype": "float32"}
    entry = {"file": "generator.onnx", "sha256": digest, "rig_version": RIG_VERSION, "kind": "generator",
             "inputs": [tensor], "outputs": [tensor]}
    (engines / "manifest.json").write_text(json.dumps({"version": 1, "models": {"generator": entry}}))


def test_no_models_shipped_is_said_and_is_not_a_failure(tmp_path: Path) -> None:
    check = check_models(DEFAULT, tmp_path / "engines")
    assert check.status is Status.INFO and "no model files shipped yet" in check.detail
    assert run_will_work([check])


def test_models_are_checked_against_their_hashes(tmp_path: Path) -> None:
    write_manifest(tmp_path / "good", b"weights", hashlib.sha256(b"weights").hexdigest())
    assert check_models(DEFAULT, tmp_path / "good").status is Status.OK
    write_manifest(tmp_path / "bad", b"weights, changed", hashlib.sha256(b"weights").hexdigest())
    onnx = Needs(True, True, True, engine="onnx")
    bad = check_models(onnx, tmp_path / "bad")
    assert bad.status is Status.FAIL and "corrupt or was replaced" in bad.detail and bad.blocks_run
    (tmp_path / "bad" / "generator.onnx").unlink()
    assert "missing" in check_models(onnx, tmp_path / "bad").detail
    assert not check_models(DEFAULT, tmp_path / "bad").blocks_run  # auto falls back to the studio renderer


def test_report_puts_the_fix_under_each_problem_and_a_verdict() -> None:
    checks = [Check("camera", Status.FAIL, "no camera found", "plug one in", True), Check("gpu", Status.INFO, "none")]
    text = format_report(checks, AppConfig())
    assert "[FAIL] camera: no camera found\n       fix: plug one in" in text
    assert "will not work" in text and not run_will_work(checks)


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avatar.cli", "doctor", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


def test_doctor_on_this_machine_prints_each_fix_and_no_traceback() -> None:
    proc = doctor()
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("[FAIL]", "[warn]")):
            assert lines[i + 1].startswith("       fix: "), line
    for name in ("packages", "camera", "microphone", "virtual camera", "gpu", "models", "face-landmarker",
                 "display"):
        assert any(line[7:].startswith(name + ":") for line in lines), name
    fails = any(line.startswith("[FAIL]") for line in lines)
    assert proc.returncode == (1 if "will not work" in proc.stdout else 0)
    assert fails == (proc.returncode == 1)
    if not linux_cameras():  # no camera here, so the default run (camera 0) cannot work
        assert proc.returncode == 1 and "[FAIL] camera" in proc.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the v4l2loopback line is Linux's")
def test_doctor_json_and_an_offline_run() -> None:
    proc = doctor("--source", "script", "--sink", "null", "--json")
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert proc.returncode == 0  # a script into the null sink needs nothing from the machine
    assert checks["camera"]["status"] == "info" and not checks["virtual camera"]["blocks_run"]


def test_trying_a_missing_camera_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    assert camera_opens("/dev/video-emotebot-none") is False
    assert camera_opens("camera:no such camera anywhere") is False
    out, err = capfd.readouterr()
    assert out == "" and "ERROR" not in err and "WARN" not in err
