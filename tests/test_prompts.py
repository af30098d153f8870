"""Prompts from file metadata: A1111 parameters, ComfyUI graphs, EXIF."""

from __future__ import annotations

import json

from lenscore.datasets.prompts import parse_a1111, parse_comfyui, prompt_from_text


def test_a1111_parameters():
    text = ("portrait of a woman, 85mm f/1.4,\nbokeh\nNegative prompt: blurry, lowres\n"
            "Steps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1234, Size: 832x1216")
    assert parse_a1111(text) == ("portrait of a woman, 85mm f/1.4,\nbokeh", "1234")
    info = prompt_from_text({"parameters": text})
    assert info.source == "a1111" and info.seed == "1234"


def test_comfyui_graph_takes_the_positive_text_only():
    graph = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 99, "positive": ["6", 0], "negative": ["7", 0]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "85mm portrait, 2700K", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark", "clip": ["4", 1]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
    }
    assert parse_comfyui(graph) == ("85mm portrait, 2700K", "99")
    assert prompt_from_text({"prompt": json.dumps(graph)}).source == "comfyui"


def test_comfyui_flux_guider_chain_and_primitive_text():
    graph = {
        "13": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["25", 0], "guider": ["22", 0]}},
        "22": {"class_type": "BasicGuider", "inputs": {"conditioning": ["26", 0]}},
        "26": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["6", 0]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["30", 0]}},
        "30": {"class_type": "PrimitiveString", "inputs": {"value": "sodium vapour street"}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}},
    }
    assert parse_comfyui(graph) == ("sodium vapour street", "5")


def test_json_in_a_description_is_not_a_prompt():
    assert prompt_from_text({"exif_description": '[null, {"desc": "Uploaded file"}]'}).prompt is None
    assert prompt_from_text({"exif_description": "A portrait at dusk"}).prompt == "A portrait at dusk"
    landmarks = "189\n565.0\t632.0\n778.0\t624.0\n565.0\t617.0\n"
    assert prompt_from_text({"exif_user_comment": landmarks}).prompt is None


def test_real_comfyui_pngs(shared_data):
    from lenscore.datasets.decode import decode_image

    d = decode_image(shared_data / "comfyui-png" / "inpain_model_woman.png")
    info = prompt_from_text(d.text)
    assert info.source == "comfyui" and info.prompt.startswith("photograph of young blonde")
    assert "watermark" not in info.prompt and info.seed == "874653573063155"
