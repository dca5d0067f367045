"""The llama.cpp engine built for this CPU (repair/engines/native.py): which CMake options a CPU gets, what the
installed engine lacks, and that every way a build can fail keeps the engine that works."""
import os
import subprocess

import pytest

from debugger.engines import native as ne

LAPTOP = "flags\t\t: fpu sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi1 bmi2 avx_vnni\n"
SERVER = ("processor\t: 0\nflags\t\t: fpu sse2 avx f16c fma avx2 bmi2 avx512f avx512dq avx512cd avx512bw avx512vl "
          "avx512vbmi avx512_vnni avx512_bf16 avx_vnni amx_tile amx_int8 amx_bf16\n")
WHEEL = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
         "OPENMP = 1 | REPACK = 1 | ")


def test_a_cpu_gets_the_options_it_has_and_never_amx():
    server, laptop = ne.cpu_flags(SERVER), ne.cpu_flags(LAPTOP)
    assert "avx512_vnni" in server and ne.cpu_flags("no flags here") == set()
    assert ne.wanted(laptop) == ["GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2", "GGML_AVX_VNNI"]
    args = ne.cmake_args(server)
    assert "-DGGML_AVX512=ON" in args and "-DGGML_AVX512_VNNI=ON" in args and "-DGGML_NATIVE=OFF" in args
    assert "-DGGML_AMX_INT8=OFF" in args and not any("AMX" in a and a.endswith("=ON") for a in args)
    assert "-DGGML_AVX512=OFF" in ne.cmake_args(laptop)
    # AVX-512 needs all five of its parts
    assert "GGML_AVX512" not in ne.wanted(ne.cpu_flags(SERVER.replace(" avx512bw", "")))


def test_what_the_prebuilt_wheel_leaves_unused():
    assert ne.installed_features(WHEEL) >= {"AVX2", "FMA", "REPACK"}
    assert ne.missing(ne.cpu_flags(SERVER), WHEEL) == ["AVX_VNNI", "AVX512", "AVX512_VBMI", "AVX512_VNNI",
                                                       "AVX512_BF16"]
    assert ne.missing(ne.cpu_flags(LAPTOP), WHEEL) == ["AVX_VNNI"]
    assert ne.missing(ne.cpu_flags(LAPTOP), WHEEL.replace("AVX2 = 1", "AVX2 = 1 | AVX_VNNI = 1")) == []


def _server_cpu(monkeypatch):
    """An AVX-512 CPU with the AVX2 wheel installed."""
    flags, real = ne.cpu_flags(SERVER), ne.installed_features
    monkeypatch.setattr(ne, "cpu_flags", lambda cpuinfo=None: flags)
    monkeypatch.setattr(ne, "installed_features", lambda info=None: real(info or WHEEL))


def test_without_a_compiler_the_wheel_stays(monkeypatch, tmp_path):
    _server_cpu(monkeypatch)
    monkeypatch.setattr(ne.shutil, "which", lambda tool: None if tool == "cmake" else "/usr/bin/" + tool)
    calls = []
    monkeypatch.setattr(ne, "_pip", lambda *a, **k: calls.append(a))
    out = ne.ensure(None, cache=tmp_path)
    assert out.action == "kept" and "cmake not found" in out.detail and "AVX512" in out.detail
    assert calls == [] and list(tmp_path.iterdir()) == []


def test_a_failed_build_keeps_the_wheel_and_leaves_no_cache(monkeypatch, tmp_path):
    _server_cpu(monkeypatch)
    monkeypatch.setattr(ne.shutil, "which", lambda tool: "/usr/bin/" + tool)
    monkeypatch.setattr(ne, "_version", lambda: "2026.10.11549")
    calls = []

    def pip(*args, env=None, timeout=0):
        calls.append((args, (env or {}).get("CMAKE_ARGS", "")))
        return subprocess.CompletedProcess(args, 1, "", "CMake Error at CMakeLists.txt:1 (message): no network\n")
    monkeypatch.setattr(ne, "_pip", pip)
    said = []
    out = ne.ensure(None, cache=tmp_path, progress=said.append)
    assert out.action == "kept" and "the build failed: CMake Error" in out.detail
    assert len(calls) == 1 and calls[0][0][:2] == ("wheel", "--no-deps") and "xllamacpp==2026.10.11549" in calls[0][0]
    assert "-DGGML_AVX512=ON" in calls[0][1] and "-DGGML_AMX_INT8=OFF" in calls[0][1]
    assert said and "about 5 minutes" in said[0] and list(tmp_path.iterdir()) == []


def test_a_built_engine_that_fails_its_check_is_rolled_back(monkeypatch, tmp_path):
    _server_cpu(monkeypatch)
    monkeypatch.setattr(ne.shutil, "which", lambda tool: "/usr/bin/" + tool)
    monkeypatch.setattr(ne, "_version", lambda: "2026.10.11549")
    monkeypatch.setattr(ne, "smoke", lambda model: "the built engine failed its one-token check (Illegal instruction)")
    calls = []

    def pip(*args, env=None, timeout=0):
        calls.append(args)
        if args[0] == "wheel":
            out = args[args.index("-w") + 1]
            os.makedirs(out, exist_ok=True)
            open(os.path.join(out, "xllamacpp-2026.10.11549-cp310-abi3-linux_x86_64.whl"), "wb").close()
        return subprocess.CompletedProcess(args, 0, "", "")
    monkeypatch.setattr(ne, "_pip", pip)
    out = ne.ensure("qwen2.5-coder-0.5b", cache=tmp_path, progress=lambda s: None)
    assert out.action == "kept" and "Illegal instruction" in out.detail
    assert [c[0] for c in calls] == ["wheel", "install", "install"]
    assert "--only-binary" in calls[2] and "xllamacpp==2026.10.11549" in calls[2]  # the wheel from the index again
    assert list(tmp_path.iterdir()) == []  # the bad build is not reused next time


@pytest.mark.skipif(not os.environ.get("DEBUGGER_REQUIRE_NATIVE_ENGINE"),
                    reason="CI sets DEBUGGER_REQUIRE_NATIVE_ENGINE after setup.sh built the engine")
def test_setup_built_the_engine_for_this_cpu():
    """On a machine with a compiler, setup.sh leaves no vector feature of the CPU unused by the engine."""
    pytest.importorskip("xllamacpp")
    assert ne.missing(ne.cpu_flags()) == []
