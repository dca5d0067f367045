"""Build the llama.cpp engine (xllamacpp) for this machine's CPU, when the prebuilt wheel leaves its
vector instructions unused. setup.sh runs it: `python -m debugger.engines.native`.

Why: the xllamacpp wheel on PyPI is compiled for AVX2, the most any x86-64 CPU of the last decade has. On
a CPU with AVX-512 the same weights prefill about 1.6x faster when llama.cpp is compiled for it (0.5B pack,
2 cores: 158 -> 252 prompt tokens/s, decode 12.5 -> 14.7 tokens/s; docs/benchmarks.md, "Engines"), and
prefill is most of what a repair waits for. The build takes about 5 minutes on 2 cores, once: the wheel
is kept in $DEBUGGER_HOME/engine and reinstalled from there.

What it does not do: build AMX kernels (llama.cpp's AMX path crashes on some machines, llama.cpp issue
#20824; its fix, PR #26954, is not released), nor anything on a CPU the wheel already serves fully (an AVX2
laptop keeps the wheel), nor anything without a C++ compiler and CMake. Every failure keeps the wheel
that works, and says so in one line. The built engine must generate one token with the default model in a
fresh process before it is kept (an instruction the CPU lacks would crash there, not in a repair).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# /proc/cpuinfo flag -> the llama.cpp (ggml) CMake option that compiles for it, in ggml's order. GGML_AVX512
# asks for F, CD, VL, DQ and BW together.
OPTIONS = [("avx", "GGML_AVX"), ("avx2", "GGML_AVX2"), ("fma", "GGML_FMA"), ("f16c", "GGML_F16C"),
           ("bmi2", "GGML_BMI2"), ("avx_vnni", "GGML_AVX_VNNI"),
           ({"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}, "GGML_AVX512"),
           ("avx512vbmi", "GGML_AVX512_VBMI"), ("avx512_vnni", "GGML_AVX512_VNNI"),
           ("avx512_bf16", "GGML_AVX512_BF16")]
# the server's TLS (BoringSSL) and grammar guidance (llguidance) are downloaded at build time and unused here
FIXED = ["-DGGML_NATIVE=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF",
         "-DLLAMA_BUILD_BORINGSSL=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_LLGUIDANCE=OFF", "-DGGML_CCACHE=OFF"]


@dataclass
class Outcome:
    action: str  # "built" | "reused" (a wheel built before) | "kept" (the installed engine stays)
    detail: str  # one line for the user
    seconds: float = 0.0


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def wanted(flags: set[str]) -> list[str]:
    """The ggml options this CPU supports, in OPTIONS order."""
    return [opt for need, opt in OPTIONS if ({need} if isinstance(need, str) else need) <= flags]


def cmake_args(flags: set[str]) -> list[str]:
    on = set(wanted(flags))
    return FIXED + [f"-D{opt}={'ON' if opt in on else 'OFF'}" for _, opt in OPTIONS]


def features(info: str) -> list[str]:
    """The features in llama.cpp's system info line ("CPU : AVX = 1 | AVX2 = 1 | ..."), in its order."""
    return [p.split("=")[0].strip() for p in info.removeprefix("CPU :").split("|") if p.strip().endswith("= 1")]


def installed_features(info: str | None = None) -> set[str]:
    """The features the installed engine was compiled for."""
    if info is None:
        import xllamacpp
        info = xllamacpp.get_system_info()
    return set(features(info))


def missing(flags: set[str], info: str | None = None) -> list[str]:
    """What this CPU has and the installed engine was not compiled for (llama.cpp's names)."""
    have = installed_features(info)
    # system info names each option without its GGML_ prefix
    return [o.removeprefix("GGML_") for o in wanted(flags) if o.removeprefix("GGML_") not in have]


def _version() -> str:
    from importlib.metadata import version
    return version("xllamacpp")


def _pip(*args: str, env: dict | None = None, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def smoke(model: str | None) -> str | None:
    """Generate one token with `model` on the engine now installed, in a fresh process. None when it works;
    else why (one line)."""
    if model is None:
        return None
    code = ("import sys\nfrom debugger.engines.llama import LlamaGenerator\nfrom debugger.prompts import infill\n"
            "g = LlamaGenerator(sys.argv[1], parallel=1, ctx=2048)\n"
            "p = infill('def add(a, b):\\n    return a - b\\n', 2, 2)\np.max_new_tokens = 1\n"
            "g.complete(p, 0, 0.0)\n")
    try:
        p = subprocess.run([sys.executable, "-c", code, model], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return "the built engine did not answer within 10 minutes"
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
        return f"the built engine failed its one-token check ({last[:200]})"
    return None


def ensure(model: str | None = None, cache: Path | None = None, progress=print) -> Outcome:
    """Install a llama.cpp engine compiled for this CPU if the installed one leaves features unused.
    `model`: a model the built engine must run (one token) before it is kept."""
    from .packs import home
    t0 = time.time()
    flags = cpu_flags()
    lack = missing(flags)
    if not lack:
        return Outcome("kept", "llama.cpp engine: compiled for every vector feature this CPU has")
    tools = [t for t in ("cmake", "c++", "cc") if not shutil.which(t)]
    if tools:
        return Outcome("kept", f"llama.cpp engine: kept the prebuilt wheel ({', '.join(tools)} not found; a build for "
                       f"this CPU would add {' '.join(lack)})")
    version = _version()
    args = cmake_args(flags)
    key = hashlib.sha256(" ".join([version, *args]).encode()).hexdigest()[:12]
    where = (cache or home() / "engine") / key
    wheels = sorted(where.glob("xllamacpp-*.whl")) if where.is_dir() else []
    action = "reused"
    if not wheels:
        progress(f"building llama.cpp {version} for this CPU ({' '.join(lack)}); about 5 minutes on 2 cores, once "
                 "(DEBUGGER_ENGINE_BUILD=0 skips it)")
        env = {**os.environ, "CMAKE_ARGS": " ".join(args), "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1)}
        tmp = where.with_name(where.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        p = _pip("wheel", "--no-deps", "--no-binary", "xllamacpp", f"xllamacpp=={version}", "-w", str(tmp), env=env)
        built = sorted(tmp.glob("xllamacpp-*.whl"))
        if p.returncode != 0 or not built:
            said = [ln for ln in (p.stderr + p.stdout).splitlines() if "rror" in ln] or ["no wheel written"]
            shutil.rmtree(tmp, ignore_errors=True)
            return Outcome("kept", f"llama.cpp engine: kept the prebuilt wheel (the build failed: "
                           f"{said[-1].strip()[:200]})", time.time() - t0)
        shutil.rmtree(where, ignore_errors=True)
        tmp.rename(where)
        wheels, action = sorted(where.glob("xllamacpp-*.whl")), "built"
    p = _pip("install", "--force-reinstall", "--no-deps", str(wheels[-1]))
    why = p.stderr.strip().splitlines()[-1] if p.returncode != 0 and p.stderr.strip() else None
    why = why or smoke(model)
    if why:  # put the wheel that works back, and forget the build
        _pip("install", "--force-reinstall", "--no-deps", "--only-binary", ":all:", f"xllamacpp=={version}")
        shutil.rmtree(where, ignore_errors=True)
        return Outcome("kept", f"llama.cpp engine: kept the prebuilt wheel ({why})", time.time() - t0)
    return Outcome(action, f"llama.cpp engine: {action} for this CPU ({' '.join(lack)} added) in "
                   f"{(time.time() - t0) / 60:.1f} min", time.time() - t0)


def main() -> int:
    if os.environ.get("DEBUGGER_ENGINE_BUILD", "1") == "0":
        print("llama.cpp engine: build skipped (DEBUGGER_ENGINE_BUILD=0)")
        return 0
    import importlib.util
    if importlib.util.find_spec("xllamacpp") is None:
        print("llama.cpp engine: not installed (pip install xllamacpp); nothing to build")
        return 0
    from .specs import status
    from .packs import DEFAULT_MODEL
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    if not status(model, "gguf").cached:  # nothing to check a build with: keep the wheel, say how to build later
        print(f"llama.cpp engine: not built ({model} is not pulled yet; run `debugger model pull`, then "
              "`python -m debugger.engines.native`)")
        return 0
    print(ensure(model).detail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
