"""The generator: layout geometry against the renderer, MAC budget, data, metrics, checkpoints, a tiny training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatar.character.renderer import RendererConfig, StudioRenderer
from avatar.errors import ModelError
from avatar.expression.rig import RigCode, sanitize
from tests.conftest import missing

try:
    import torch

    from avatar.generator import checkpoint
    from avatar.generator.data import KINDS, held_out_codes, sample_code, sample_codes
    from avatar.generator.metrics import gradient_magnitude, premultiply, psnr, quality, ssim
    from avatar.generator.network import Discriminator, Generator, GeneratorConfig, count_macs
    from avatar.generator.train import TrainConfig, train
except ImportError:  # the `train` extra; CI installs it
    torch = None


@pytest.fixture(autouse=True)
def _needs_torch() -> None:
    if torch is None:
        missing("torch (pip install -e '.[train]')")


def _layout(size: int, codes: list[RigCode]) -> np.ndarray:
    net = Generator(GeneratorConfig(size=size))
    with torch.no_grad():
        full, _, _ = net.layout(torch.from_numpy(np.stack([c.values for c in codes])))
    return full.numpy()  # (N, 11, S, S)


def test_layout_outline_matches_the_renderer() -> None:
    """The analytic silhouette (shell, ears, antenna) is the studio renderer's to within a fraction of a pixel."""
    codes = [RigCode.rest(), RigCode.from_dict({"head_yaw": 35.0, "head_pitch": -25.0, "happy": 1.0}),
             RigCode.from_dict({"head_yaw": -45.0, "head_pitch": 45.0, "angry": 1.0})]
    layout = _layout(128, codes)
    renderer = StudioRenderer(RendererConfig(size=128))
    for code, planes in zip(codes, layout, strict=True):
        alpha = renderer.render(code).pixels[..., 3] / 255.0
        error = np.abs(planes[0] - alpha)
        assert error.mean() < 0.006, error.mean()  # ≈ 0.3 px along the whole outline


def test_layout_face_follows_the_rig() -> None:
    """Gaze moves the sparkles (they ride on the pupils) right; a blink of the user's left eye (image right)
    removes most of that eye's light and leaves the other side alone."""
    hot = _layout(128, [RigCode.rest(), RigCode.from_dict({"gaze_x": 1.0})])[:, 5]
    xs = np.arange(128)
    centre = [(h.sum(0) * xs).sum() / h.sum() for h in hot]
    assert centre[1] > centre[0] + 2.0  # pixels at 128
    open_, blink = _layout(128, [RigCode.rest(), RigCode.from_dict({"eye_blink_left": 1.0})])[:, 4]
    right_half = slice(64, 128)
    assert blink[:, right_half].sum() < 0.6 * open_[:, right_half].sum()
    assert np.allclose(blink[:, :50], open_[:, :50], atol=1e-4)


def test_mac_budget_and_the_counter() -> None:
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    assert count_macs(conv, torch.zeros(1, 3, 8, 8)) == 8 * 8 * 4 * 3 * 9
    code = torch.from_numpy(RigCode.rest().values[None])
    macs = count_macs(Generator(GeneratorConfig(size=256)), code)
    assert macs <= 1_000_000_000  # the CPU model's budget
    big = Generator(GeneratorConfig(size=512)).to("meta")  # shapes only: counting needs no arithmetic
    assert count_macs(big, code.to("meta")) > 3 * macs  # the GPU variant really is bigger


def test_discriminator_scores_patches() -> None:
    net = Generator(GeneratorConfig(size=64))
    rgba, layout, cond = net.planes(torch.from_numpy(held_out_codes(2)))
    logits = Discriminator()(rgba, layout, cond)
    assert logits.shape == (2, 1, 8, 8)


def test_sampler_is_seeded_valid_and_covers_the_space() -> None:
    a, b = sample_codes(300, seed=3), sample_codes(300, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, sample_codes(300, seed=4))
    assert all(sanitize(c)[1] == "" for c in a)  # already clean: in range, weights sum to 1
    fields = {name: i for i, name in enumerate(RigCode.rest().to_dict())}
    assert (np.abs(a[:, fields["head_yaw"]]) >= 30).mean() > 0.05
    assert (a[:, fields["eye_blink_left"]] == 1.0).any() and (a[:, fields["jaw_open"]] >= 0.4).mean() > 0.05
    assert (a[:, 16:].max(1) == 1.0).mean() > 0.2  # pure expressions
    rng = np.random.default_rng(0)
    assert all(sample_code(rng, k).shape == (21,) for k in KINDS)
    held = held_out_codes(8)
    assert np.array_equal(held[0], RigCode.rest().values) and not (held[:, None] == a[None]).all(-1).any()


def test_metrics() -> None:
    rng = np.random.default_rng(0)
    img = premultiply(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8))
    assert psnr(img, img) == float("inf") and ssim(img, img) == pytest.approx(1.0)
    noisy = np.clip(img + rng.normal(0, 0.1, img.shape).astype(np.float32), 0, 1)
    noisier = np.clip(img + rng.normal(0, 0.3, img.shape).astype(np.float32), 0, 1)
    assert 15 < psnr(noisy, img) < 25 and psnr(noisier, img) < psnr(noisy, img)
    assert ssim(noisier, img) < ssim(noisy, img) < 0.95
    blurred = (img + np.roll(img, 1, 0) + np.roll(img, 1, 1) + np.roll(img, 1, (0, 1))) / 4
    assert gradient_magnitude(blurred) / gradient_magnitude(img) < 0.7
    q = quality(np.stack([noisy, noisier]), np.stack([img, img]))
    assert q.images == 2 and not q.meets()


def test_checkpoint_rebuilds_the_model_alone(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = Generator(GeneratorConfig(size=64, trunk=8))
    torch.nn.init.normal_(net.out.weight)
    path = checkpoint.save_generator(net, tmp_path / "g.safetensors", {"step": 7})
    again, extra = checkpoint.load_generator(path)
    code = torch.from_numpy(held_out_codes(3))
    with torch.no_grad():
        assert torch.equal(net.eval()(code), again(code))
    assert again.config == net.config and extra == {"step": 7}
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelError, match=r"g.safetensors is corrupt or not a safetensors file"):
        checkpoint.load_generator(path)
    with pytest.raises(ModelError, match=r"does not exist; train one"):
        checkpoint.load_generator(tmp_path / "none.safetensors")


def test_two_training_steps_write_a_checkpoint_that_reloads_and_resumes(tmp_path: Path) -> None:
    config = TrainConfig(model=GeneratorConfig(size=64, trunk=8, hidden=8, film=16), steps=2, batch=2,
                         train_codes=4, eval_codes=2, eval_every=2, adversarial_from=0.5, device="cpu")
    run = tmp_path / "run"
    trainer = train(config, run, tmp_path / "cache")
    assert trainer.step == 2 and len(trainer.history) == 1
    assert (run / "samples" / "step_000002.png").is_file() and (run / "metrics.jsonl").is_file()
    net, extra = checkpoint.load_generator(run / "generator.safetensors")
    code = torch.from_numpy(held_out_codes(2))
    with torch.no_grad():
        assert torch.equal(net(code), trainer.gen.eval()(code))
    assert extra["step"] == 2
    longer = TrainConfig(**{**config.__dict__, "steps": 3})
    resumed = train(longer, run, tmp_path / "cache", resume=True)
    assert resumed.step == 3 and [h["step"] for h in resumed.history] == [2, 3]
