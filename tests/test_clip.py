"""clip family: plumbing, batching, long prompts, offline weight resolution, torchvision fallback.

Every model here has random weights (a tiny custom open_clip config, saved to a temporary
checkpoint); nothing is downloaded and no test claims semantic quality from random weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lenscore.metrics.clip as C
from lenscore.errors import ConfigError, InputError, LenscoreError, MissingDependencyError, UsageError

REPO = Path(__file__).resolve().parents[1]
TINY = {"embed_dim": 32,
        "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}


# ---------------------------------------------------------------------------------------------
# fixtures: a tiny random model registered with open_clip and saved as a local checkpoint
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def oc():
    try:
        torch, open_clip, _ = C._import_open_clip()
    except MissingDependencyError as e:
        pytest.skip(f"clip extra not installed: {e}")
    torch.manual_seed(0)
    return open_clip


@pytest.fixture(scope="module")
def tiny(oc, tmp_path_factory):
    """(model name, checkpoint path) of a tiny random CLIP."""
    import torch

    d = tmp_path_factory.mktemp("clipcfg")
    for name, cfg in {"lenscore-tiny": TINY,
                      "lenscore-tiny-other": {**TINY, "embed_dim": 16}}.items():
        (d / f"{name}.json").write_text(json.dumps(cfg))
        oc.add_model_config(d / f"{name}.json")
    net = oc.create_model(
        "lenscore-tiny", pretrained=None)
    ckpt = d / "tiny_random.pt"
    torch.save(net.state_dict(), ckpt)
    return "lenscore-tiny", ckpt


@pytest.fixture(scope="module")
def scorer(tiny):
    name, ckpt = tiny
    return C.load_clip(name, str(ckpt), batch_size=3, device="cpu")


def _ctx(seed: int, shape=(96, 128), prompt=None):
    from lenscore.context import ImageContext

    rgb = np.random.default_rng(seed).random((*shape, 3), dtype=np.float32)
    return ImageContext(rgb, prompt=prompt)


# ---------------------------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------------------------

def test_clip_score_known_values_and_scale():
    assert C.clip_score(0.3) == pytest.approx(30.0)
    assert C.clip_score(-0.4) == 0.0
    assert C.clip_score(1.0) == 100.0
    assert math.isnan(C.clip_score(float("nan")))
    np.testing.assert_allclose(C.clip_score(np.array([0.25, -1.0])), [25.0, 0.0])
    assert "100 * max(cos, 0)" in C.SCORE_SCALE


def test_probe_probability_is_a_symmetric_monotonic_probability():
    assert C.probe_probability(0.2, 0.2, logit_scale=100.0) == pytest.approx(0.5)
    p = C.probe_probability(0.3, 0.2, logit_scale=100.0)
    q = C.probe_probability(0.2, 0.3, logit_scale=100.0)
    assert p + q == pytest.approx(1.0)
    assert p == pytest.approx(1 / (1 + math.exp(-10.0)))
    d = np.linspace(-1, 1, 41)
    probs = C.probe_probability(d, 0.0, logit_scale=100.0)
    assert np.all(np.diff(probs) >= 0) and np.all((probs >= 0) & (probs <= 1))


def test_diversity_known_answers():
    assert C.diversity(np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(1.0)
    assert C.diversity(np.array([[1.0, 0.0], [-2.0, 0.0]])) == pytest.approx(2.0)
    same = np.tile(np.array([[0.3, 0.4, 0.5]]), (5, 1))
    assert C.diversity(same) == pytest.approx(0.0, abs=1e-12)  # collapsed: one picture
    # three orthonormal + their mean pairwise distance is 1
    assert C.diversity(np.eye(3)) == pytest.approx(1.0)


def test_diversity_edge_cases():
    assert math.isnan(C.diversity(np.zeros((0, 4))))
    assert math.isnan(C.diversity(np.ones((1, 4))))
    with_nan = np.array([[1.0, 0.0], [np.nan, 1.0], [0.0, 1.0]])
    assert C.diversity(with_nan) == pytest.approx(1.0)  # the NaN row is ignored
    with pytest.raises(InputError):
        C.diversity(np.ones(4))


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(2, 5)),
              elements=st.floats(-1, 1, allow_nan=False)),
       st.floats(0.1, 10.0), st.randoms(use_true_random=False))
def test_diversity_invariant_to_row_scale_and_order(e, scale, rnd):
    e = e[np.linalg.norm(e, axis=1) > 1e-3]
    if len(e) < 2:
        return
    idx = list(range(len(e)))
    rnd.shuffle(idx)
    d = C.diversity(e)
    assert 0.0 <= d <= 2.0 + 1e-9
    assert C.diversity(e[idx] * scale) == pytest.approx(d, abs=1e-9)


def test_alignment_margin_positive_when_images_match_their_prompts():
    rng = np.random.default_rng(1)
    prompts = ["a", "b", "c", "a"]
    base = {p: rng.normal(size=16) for p in set(prompts)}
    txt = np.stack([base[p] for p in prompts])
    img = txt + 0.05 * rng.normal(size=txt.shape)
    assert C.alignment_margin(img, txt, prompts) > 5.0
    # shuffling which image goes with which prompt destroys the margin's sign
    assert C.alignment_margin(img, txt[[1, 2, 0, 1]], ["b", "c", "a", "b"]) < 0
    assert math.isnan(C.alignment_margin(img, txt, ["a"] * 4))  # one prompt: no null to compare
    with pytest.raises(InputError):
        C.alignment_margin(img, txt[:2], prompts)


def test_split_prompt_chunks_fit_and_keep_every_word():
    words = lambda t: len(t.split()) + 2  # noqa: E731  (a toy tokenizer: one token per word)
    text = ", ".join(f"phrase {i} with five words" for i in range(30))
    chunks = C.split_prompt(text, words, 20)
    assert len(chunks) > 1
    assert all(words(c) <= 20 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert C.split_prompt("short prompt", words, 20) == ["short prompt"]
    # a phrase with no punctuation longer than the context is split at words
    long_phrase = " ".join(["word"] * 50)
    chunks = C.split_prompt(long_phrase, words, 20)
    assert all(words(c) <= 20 for c in chunks) and sum(len(c.split()) for c in chunks) == 50


def test_parse_probes_merges_and_validates():
    p = C.parse_probes({"rim_light": ["rim light separating the subject", "flat front light"]})
    assert set(C.DEFAULT_PROBES) < set(p) and p["rim_light"][1] == "flat front light"
    p = C.parse_probes({"bokeh_orbs": {"positive": "round discs", "negative": "smear"}})
    assert p["bokeh_orbs"] == ("round discs", "smear")
    assert C.parse_probes({"x1": ["a", "b"]}, include_defaults=False) == {"x1": ("a", "b")}
    for bad in ({"Bad Name": ["a", "b"]}, {"ok": ["only one"]}, {"ok": ["a", ""]},
                {"ok": ["same", "same"]}, {"ok": "a vs b"}, ["a", "b"]):
        with pytest.raises(ConfigError):
            C.parse_probes(bad)


def test_default_probes_use_the_articles_vocabulary():
    captions = " ".join(c for pair in C.DEFAULT_PROBES.values() for c in pair)
    for phrase in ("circular bokeh orbs", "gaussian blurred background", "visible skin pores",
                   "natural sebum reflection", "airbrushed plastic skin", "sodium vapour",
                   "85mm portrait with shallow depth of field"):
        assert phrase in captions


# ---------------------------------------------------------------------------------------------
# registry and lazy import
# ---------------------------------------------------------------------------------------------

def test_registered_family_lists_default_probes_and_is_opt_in():
    from lenscore.metrics.base import families

    fam = families()["clip"]
    assert fam.default is False and fam.extra == "clip"
    names = [o.name for o in fam.outputs]
    assert names[0] == "clip.prompt_alignment"
    assert {f"clip.probe_{k}" for k in C.DEFAULT_PROBES} == set(names[1:])
    assert fam.output("prompt_alignment").range == (0.0, 100.0)
    res = fam.compute(_ctx(0))  # without a model: NaN with a reason, never a crash
    assert all(math.isnan(v) for v in res.values.values()) and "--clip-model" in res.reasons["clip"]


def test_importing_the_module_and_skipping_without_weights_do_not_import_torch():
    # without the clip extra load_clip names it (MissingDependencyError); with it, no weights
    # given means ClipUnavailable: either way the optical run goes on without torch
    code = ("import sys, lenscore.metrics.clip as c\n"
            "from lenscore.errors import MissingDependencyError\n"
            "try:\n    c.load_clip('ViT-B-32', None)\n"
            "except (c.ClipUnavailable, MissingDependencyError):\n    pass\n"
            "print(any(m == 'torch' or m.startswith(('torch.', 'open_clip')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# preprocessing: the numpy/Pillow copy reproduces open_clip's eval transform
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["shortest", "longest", "squash"])
@pytest.mark.parametrize("shape", [(97, 131), (131, 97), (40, 40), (8, 8)])
def test_prepare_image_matches_open_clip_transform(oc, mode, shape):
    from PIL import Image

    u8 = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    ref = oc.image_transform(64, is_train=False, resize_mode=mode, fill_color=0)
    expected = ref(Image.fromarray(u8)).numpy().transpose(1, 2, 0)
    got = C.prepare_image(u8.astype(np.float32) / 255.0, size=(64, 64), resize_mode=mode)
    assert got.dtype == np.uint8 and got.shape == (64, 64, 3)
    mean, std = np.array(oc.OPENAI_DATASET_MEAN), np.array(oc.OPENAI_DATASET_STD)
    np.testing.assert_allclose((got / 255.0 - mean) / std, expected, atol=1e-4)


def test_prepare_handles_uniform_tiny_and_non_finite_images():
    p = C.ClipPreprocess(size=(32, 48))
    assert p(np.full((8, 8, 3), 0.5, np.float32)).shape == (32, 48, 3)
    uniform = p(np.full((50, 70, 3), 0.25, np.float32))
    assert np.all(uniform == 64)
    bad = np.full((20, 20, 3), np.nan, np.float32)
    assert p(bad).max() == 0
    with pytest.raises(InputError):
        p(np.zeros((10, 10), np.float32))


def test_preprocess_is_picklable_for_worker_processes(scorer):
    import pickle

    pre = pickle.loads(pickle.dumps(scorer.preprocess))
    ctx = _ctx(3)
    np.testing.assert_array_equal(pre(ctx), scorer.prepare(ctx))


# ---------------------------------------------------------------------------------------------
# loading: local file, cache tag, offline miss, no weights
# ---------------------------------------------------------------------------------------------

def test_no_weights_is_one_clear_line(oc):
    with pytest.raises(C.ClipUnavailable) as e:
        C.load_clip("ViT-B-32", None)
    msg = str(e.value)
    assert "\n" not in msg and "--clip-pretrained" in msg
    assert isinstance(e.value, LenscoreError)


def test_missing_file_unknown_tag_and_unknown_model(oc, tmp_path):
    with pytest.raises(C.ClipUnavailable, match="not found"):
        C.load_clip("ViT-B-32", str(tmp_path / "nope.pt"))
    with pytest.raises(C.ClipUnavailable, match="neither a file nor an open_clip tag"):
        C.load_clip("ViT-B-32", "no_such_tag")
    with pytest.raises(UsageError, match="Did you mean 'ViT-B-32'"):
        C.load_clip("ViT-B-23", "laion2b_s34b_b79k")
    with pytest.raises(UsageError):
        C.load_clip("ViT-B-32", None, batch_size=0)


def test_known_tag_missing_from_cache_fails_fast_offline(oc, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    before = (os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE)
    with pytest.raises(C.ClipUnavailable) as e:
        C.load_clip("ViT-B-32", "laion2b_s34b_b79k")
    msg = str(e.value)
    assert "not in the Hugging Face cache" in msg and "never downloads" in msg and "\n" not in msg
    assert (os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE) == before  # restored
    assert not list((tmp_path / "empty-cache").rglob("*.bin"))  # nothing fetched


def test_tag_resolved_from_the_hugging_face_cache(oc, tiny, tmp_path, monkeypatch):
    """A tag whose file sits in the HF cache loads offline; the hash is the file's."""
    from huggingface_hub import constants

    name, ckpt = tiny
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--lenscore--tiny-clip"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    target = repo / "snapshots" / commit / "open_clip_pytorch_model.bin"
    target.write_bytes(ckpt.read_bytes())
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setitem(oc.pretrained._PRETRAINED, name,
                        {"testtag": oc.pretrained._pcfg(hf_hub="lenscore/tiny-clip/")})
    s = C.load_clip(name, "testtag", batch_size=2, device="cpu")
    meta = s.metadata()
    assert meta["weights_source"] == "cache" and meta["pretrained"] == "testtag"
    assert meta["weights_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()


def test_checkpoint_that_does_not_fit_the_model_is_unavailable(tiny):
    _, ckpt = tiny
    with pytest.raises(C.ClipUnavailable, match="cannot load weights"):
        C.load_clip("lenscore-tiny-other", str(ckpt))


def test_metadata_records_model_tag_and_weights_hash(scorer, tiny):
    _, ckpt = tiny
    meta = scorer.metadata()
    assert meta["model"] == "lenscore-tiny" and meta["pretrained"] == str(ckpt)
    assert meta["weights_source"] == "file"
    assert meta["weights_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert meta["context_length"] == 77 and meta["device"] == "cpu" and meta["batch_size"] == 3
    assert meta["torch_version"] and meta["open_clip_version"]
    assert meta["probes"]["bokeh_orbs"]["positive"] == "circular bokeh orbs"
    json.dumps(meta)  # summary.json-ready


# ---------------------------------------------------------------------------------------------
# scoring: outputs, batching, prompts
# ---------------------------------------------------------------------------------------------

def test_score_outputs_match_the_scorers_family(scorer):
    ctxs = [_ctx(i, prompt="a portrait with circular bokeh") for i in range(2)]
    res = scorer.score([scorer.prepare(c) for c in ctxs], [c.prompt for c in ctxs])
    declared = {o.name for o in scorer.family.outputs}
    for r in res:
        assert set(r.values) == declared
        assert 0.0 <= r.values["clip.prompt_alignment"] <= 100.0
        for k, v in r.values.items():
            if k.startswith("clip.probe_"):
                assert 0.0 <= v <= 1.0
        emb = r.artifacts["embedding"]
        assert emb.dtype == np.float32 and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
        assert r.values["clip.prompt_alignment"] == pytest.approx(100 * max(r.artifacts["cosine"], 0.0))


def test_batching_does_not_change_scores(tiny, scorer):
    name, ckpt = tiny
    one = C.load_clip(name, str(ckpt), batch_size=1, device="cpu")
    ctxs = [_ctx(i, shape=(64 + 7 * i, 90), prompt=["a", "b", None][i % 3]) for i in range(7)]
    images = [scorer.prepare(c) for c in ctxs]
    prompts = [c.prompt for c in ctxs]
    batched, single = scorer.score(images, prompts), one.score(images, prompts)
    for a, b in zip(batched, single):
        assert a.values.keys() == b.values.keys()
        for k in a.values:
            np.testing.assert_allclose(a.values[k], b.values[k], rtol=1e-4, atol=1e-4)
    # order does not matter either
    rev = scorer.score(images[::-1], prompts[::-1])[::-1]
    for a, b in zip(batched, rev):
        np.testing.assert_allclose(a.artifacts["embedding"], b.artifacts["embedding"], atol=1e-5)


def test_no_prompt_is_nan_with_reason_and_probes_still_run(scorer):
    ctx = _ctx(5)
    for prompt in (None, "", "   "):
        (r,) = scorer.score([scorer.prepare(ctx)], [prompt])
        assert math.isnan(r.values["clip.prompt_alignment"])
        assert r.reasons["clip.prompt_alignment"] == "no prompt for this image"
        assert all(np.isfinite(v) for k, v in r.values.items() if k.startswith("clip.probe_"))


def test_long_prompt_is_split_and_reported(scorer):
    long = ", ".join(f"detail number {i} of the scene" for i in range(40))
    n_tok = scorer._count_tokens(long)
    assert n_tok > 77
    img = scorer.prepare(_ctx(6))
    (r,) = scorer.score([img], [long])
    note = r.reasons["clip.prompt_alignment"]
    assert f"prompt longer than 77 tokens ({n_tok})" in note and "chunks and averaged" in note
    assert r.artifacts["prompt_chunks"] >= 2 and r.artifacts["prompt_tokens"] == n_tok
    assert math.isfinite(r.values["clip.prompt_alignment"])
    # the averaged prompt embedding is the token-weighted mean of its chunk embeddings
    chunks = C.split_prompt(long, scorer._count_tokens, 77)
    assert len(chunks) == r.artifacts["prompt_chunks"]
    emb = scorer._encode_texts(chunks)
    w = np.array([scorer._count_tokens(c) for c in chunks], float)
    v = (w[:, None] * emb).sum(0)
    np.testing.assert_allclose(r.artifacts["text_embedding"], v / np.linalg.norm(v), atol=1e-5)


def test_long_prompt_truncate_mode_and_prompt_at_the_limit(tiny):
    name, ckpt = tiny
    s = C.load_clip(name, str(ckpt), long_prompts="truncate", probes={}, device="cpu")
    long = " ".join(["bokeh"] * 120)
    img = s.prepare(_ctx(7))
    (r,) = s.score([img], [long])
    assert "truncated to the first 77" in r.reasons["clip.prompt_alignment"]
    assert r.artifacts["prompt_chunks"] == 1
    fits = " ".join(["a"] * 75)  # 75 one-token words + start + end = exactly 77 tokens
    assert s._count_tokens(fits) == 77
    (r,) = s.score([img], [fits])
    assert "clip.prompt_alignment" not in r.reasons
    with pytest.raises(UsageError):
        C.load_clip(name, str(ckpt), long_prompts="cut")


def test_user_probes_add_outputs(tiny):
    name, ckpt = tiny
    s = C.load_clip(name, str(ckpt), probes={"rim_light": ["strong rim light", "flat front light"]},
                    device="cpu")
    assert "clip.probe_rim_light" in {o.name for o in s.family.outputs}
    (r,) = s.score([s.prepare(_ctx(8))], [None])
    assert 0.0 <= r.values["clip.probe_rim_light"] <= 1.0
    assert s.metadata()["probes"]["rim_light"] == {"positive": "strong rim light",
                                                   "negative": "flat front light"}


def test_scorer_family_computes_one_context(scorer):
    ctx = _ctx(9, prompt="portrait")
    r = scorer.family.compute(ctx)
    (b,) = scorer.score([scorer.prepare(ctx)], ["portrait"])
    assert r.values == pytest.approx(b.values)


def test_bad_inputs_raise_input_errors(scorer):
    img = scorer.prepare(_ctx(10))
    with pytest.raises(InputError, match="prompt"):
        scorer.score([img, img], ["a"])
    with pytest.raises(InputError, match="prepared uint8"):
        scorer.score([np.zeros((10, 10, 3), np.uint8)], ["a"])
    assert scorer.score([], []) == []


def test_diversity_of_scored_embeddings(scorer):
    ctx = _ctx(11)
    same = [scorer.prepare(ctx)] * 4
    res = scorer.score(same, [None] * 4)
    assert C.diversity(np.stack([r.artifacts["embedding"] for r in res])) == pytest.approx(0.0, abs=1e-5)
    different = [scorer.prepare(_ctx(20 + i)) for i in range(4)]
    res = scorer.score(different, [None] * 4)
    assert C.diversity(np.stack([r.artifacts["embedding"] for r in res])) > 0.0


# ---------------------------------------------------------------------------------------------
# the torchvision fallback (ENVIRONMENT.md): only on the exact error, tested in subprocesses
# ---------------------------------------------------------------------------------------------

def test_fallback_only_on_the_exact_error(oc, tmp_path):
    """A fake torchvision first fails with another error (must propagate, nothing registered),
    then with the exact CUDA-build error (placeholders registered, import retried and loaded)."""
    fake = tmp_path / "fake" / "torchvision"
    fake.mkdir(parents=True)
    other = 'raise RuntimeError("some other torchvision failure")\n'
    exact = textwrap.dedent("""
        import torch
        try:
            torch.ops.torchvision.nms
        except (AttributeError, RuntimeError):
            raise RuntimeError("operator torchvision::nms does not exist")
        LOADED = True
    """)
    (fake / "__init__.py").write_text(other)
    code = textwrap.dedent(f"""
        import pathlib, sys
        sys.path.insert(0, {str(tmp_path / "fake")!r})
        import torch, lenscore.metrics.clip as C
        try:
            C._import_torchvision()
        except RuntimeError as e:
            assert "some other" in str(e), e
        else:
            raise SystemExit("another RuntimeError must propagate")
        assert C._TV_PLACEHOLDER_LIB is None
        try:
            torch.ops.torchvision.nms
            raise SystemExit("no op may be registered for another error")
        except (AttributeError, RuntimeError):
            pass
        pathlib.Path({str(fake / "__init__.py")!r}).write_text({exact!r})
        import importlib; importlib.invalidate_caches()
        tv, used = C._import_torchvision()
        assert tv.LOADED and used
        try:
            torch.ops.torchvision.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
        except RuntimeError as e:
            assert "placeholder" in str(e), e
        else:
            raise SystemExit("placeholder nms should refuse to run")
        print("ok")
    """)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.strip() == "ok"


def test_real_torchvision_loads_and_fallback_matches_the_environment(oc):
    """In this process open_clip is imported; placeholders were used iff plain torchvision fails."""
    probe = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True)
    plain_fails = probe.returncode != 0
    if plain_fails:
        assert C._TV_MISSING_OP in probe.stderr  # the failure ENVIRONMENT.md documents
    assert (C._TV_PLACEHOLDER_LIB is not None) == plain_fails
    assert "open_clip" in sys.modules


# ---------------------------------------------------------------------------------------------
# summary helpers and the command line, end to end
# ---------------------------------------------------------------------------------------------

def test_variant_summary_diversity_and_margin():
    e = np.eye(4, dtype=np.float32)
    rows = [("a", "p1", e[0], e[0]), ("a", "p2", e[1], e[1]), ("a", None, e[2], None),
            ("b", "p", e[3], e[3]), ("b", "p", e[3], e[3])]
    s = C.variant_summary(rows)
    assert s["a"]["n_embedded"] == 3 and s["a"]["diversity"] == pytest.approx(1.0)
    assert s["a"]["alignment_margin"] == pytest.approx(100.0) and s["a"]["n_prompts"] == 2
    assert s["b"]["diversity"] == pytest.approx(0.0) and s["b"]["alignment_margin"] is None
    json.dumps(s, allow_nan=False)


def _write_folder(tmp_path: Path, n: int = 5) -> Path:
    from PIL import Image

    root = tmp_path / "renders"
    rng = np.random.default_rng(0)
    rows = ["path,variant,prompt"]
    for i in range(n):
        variant = "optical" if i % 2 else "blurred"
        (root / variant).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)).save(root / variant / f"{i}.png")
        prompt = "" if i == 0 else ("85mm f/1.4 portrait, " * (30 if i == 1 else 1)).strip(", ")
        rows.append(f'{variant}/{i}.png,{variant},"{prompt}"')
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def test_cli_scores_a_folder_with_a_local_checkpoint(tiny, tmp_path):
    import csv

    from click.testing import CliRunner

    from lenscore.cli import main

    name, ckpt = tiny
    manifest = _write_folder(tmp_path)
    probes = tmp_path / "probes.yaml"
    probes.write_text("probes:\n  rim_light: [strong rim light, flat front light]\n")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["score", "--manifest", str(manifest), "--out", str(out), "-j", "1",
                                  "--no-cache", "--clip-model", name, "--clip-pretrained", str(ckpt),
                                  "--clip-batch-size", "2", "--clip-probes", str(probes)])
    assert r.exit_code == 0, r.output + str(r.exception)
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == 5 and all(row["status"] == "ok" for row in rows)
    assert {"clip.prompt_alignment", "clip.probe_bokeh_orbs", "clip.probe_rim_light"} <= set(rows[0])
    by_path = {row["path"]: row for row in rows}
    assert by_path["blurred/0.png"]["clip.prompt_alignment"] == ""  # no prompt: NaN ...
    assert "clip.prompt_alignment: no prompt for this image" in by_path["blurred/0.png"]["notes"]
    assert by_path["blurred/0.png"]["clip.probe_bokeh_orbs"] != ""  # ... probes still measured
    assert "split into" in by_path["optical/1.png"]["notes"]
    summary = json.loads((out / "summary.json").read_text())
    meta = summary["clip"]
    assert meta["model"] == name and meta["weights_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert set(meta["variants"]) == {"blurred", "optical"}
    assert meta["variants"]["optical"]["n_embedded"] == 2
    assert 0.0 <= meta["variants"]["optical"]["diversity"] <= 2.0
    assert "clip.probe_rim_light" in summary["metrics"]["clip"]["outputs"]
    assert summary["variants"]["optical"]["outputs"]["clip.probe_rim_light"]["n"] == 2


def test_cli_without_weights_skips_clip_with_one_line_and_runs_the_rest(oc, tmp_path):
    from click.testing import CliRunner

    from lenscore.cli import main

    manifest = _write_folder(tmp_path, n=2)
    base = ["score", "--manifest", str(manifest), "-j", "1", "--no-cache"]
    plain = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "plain")])
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "skip"), "--clip-model", "ViT-B-32"])
    assert plain.exit_code == 0 and r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if "clip" in ln]
    assert len(lines) == 1 and "--clip-pretrained" in lines[0]
    header = (tmp_path / "skip" / "scores.csv").read_text().splitlines()[0]
    assert header == (tmp_path / "plain" / "scores.csv").read_text().splitlines()[0]
    assert "clip" not in json.loads((tmp_path / "skip" / "summary.json").read_text())


def test_uniform_and_tiny_images_score_without_error(scorer):
    from lenscore.context import ImageContext

    ctxs = [ImageContext(np.full((8, 8, 3), 0.5, np.float32), prompt="a grey square"),
            ImageContext(np.zeros((300, 200, 3), np.float32), prompt="darkness")]
    for r in scorer.score([scorer.prepare(c) for c in ctxs], [c.prompt for c in ctxs]):
        assert all(np.isfinite(v) for v in r.values.values())


def test_prompt_embedding_cache_is_bounded_and_stays_correct(scorer, monkeypatch):
    monkeypatch.setattr(C, "_TEXT_CACHE_MAX", 3)
    img = scorer.prepare(_ctx(12))
    first = scorer.score([img] * 2, ["p0", "p1"])
    many = scorer.score([img] * 4, ["p0", "p2", "p3", "p1"])  # overflows the cache: cleared, refilled
    assert len(scorer._text_cache) <= 4
    assert many[0].values == pytest.approx(first[0].values)
    assert many[3].values == pytest.approx(first[1].values)
