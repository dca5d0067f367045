"""Run `debugger fix` over a benchmark, per named config, then the hidden judge; one JSONL row per pair.

Every (task, config) pair runs on a fresh copy of the task folder, exactly as a user would run the tool:
`debugger fix FILE --test TEST --apply --json --config CONFIG` from inside task/. Results append to
RUN_DIR/results.jsonl as they finish, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from debugger.redact import redact_obj
from debugger.testrun import run_tests

from .tasks import Task, fix_targets, holds

CONFIGS = Path(__file__).resolve().parent / "configs"
# a judge (the fix's whole test modules) that runs longer fails: the real-bug recipe keeps a task only where
# its judge passes on the upstream fix within the same 300 s, and a wrong fix that hangs a test would
# otherwise hold the run for minutes per candidate
JUDGE_TIMEOUT = 300
JUDGED_PASSING = 4  # the passing candidates judged, the chosen one first (for the choice-at-random baseline)


def label(config: str) -> str:
    """A config file outside eval/configs is reported by its stem (base.toml -> base)."""
    return Path(config).stem if config.endswith(".toml") else config


def config_path(name: str) -> Path:
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return p.resolve()
    p = CONFIGS / f"{name}.toml"
    if not p.is_file():
        have = ", ".join(sorted(c.stem for c in CONFIGS.glob("*.toml")))
        raise ValueError(f"unknown eval config {name!r} (have: {have})")
    return p


def _env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    # `python` in task commands is this interpreter, whatever PATH says
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def _peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    import psutil
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.wait(0.25):
        try:
            procs = [root, *root.children(recursive=True)]
            out[0] = max(out[0], sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            continue


def _shell(cmd: str, cwd: Path, env: dict, timeout: float) -> tuple[int, str]:
    p = subprocess.Popen(cmd, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, errors="replace", start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out[-4000:]
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        return -9, "timed out"


def loc_rank(localization: list[dict], targets: list[tuple[int, int]]) -> int | None:
    """1-based rank of the first span that holds the reference fix (see tasks.fix_targets)."""
    return next((i for i, s in enumerate(localization, 1) if holds(targets, s["start_line"], s["end_line"])), None)


def run_pair(task: Task, config: str, *, time_limit: float, threads: int | None, extra: list[str]) -> dict:
    # ids may group tasks (`suite/name`): the temporary folder's name takes a plain form of it
    work = Path(tempfile.mkdtemp(prefix=f"eval-{re.sub(r'[^A-Za-z0-9_.-]', '_', task.id)}-"))
    env = _env(threads)
    try:
        shutil.copytree(task.dir, work / task.id, ignore=shutil.ignore_patterns("__pycache__"))
        proj = work / task.id / "task"
        shutil.copytree(proj, work / "baseline" / "task")
        baseline = run_tests(work / "baseline" / "task", task.test, timeout=600)
        trace = work / "trace.jsonl"  # every prompt, candidate and verdict: OUT/traces/CONFIG/TASK.jsonl
        cmd = [sys.executable, "-m", "debugger.cli", "fix", task.file, "--test", task.test, "--apply", "--json",
               "--config", str(config_path(config)), "--trace", str(trace), *extra]
        if threads:
            cmd += ["--threads", str(threads)]
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=proj, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        stop, peak = threading.Event(), [0]
        mon = threading.Thread(target=_peak_rss, args=(p.pid, stop, peak), daemon=True)
        mon.start()
        try:
            out, err = p.communicate(timeout=time_limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            out, err = p.communicate()
            timed_out = True
        wall = time.monotonic() - t0
        stop.set()
        mon.join()
        try:
            res = json.loads(out.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            res = {"status": "timeout" if timed_out else "crash", "error": (err or out)[-2000:]}
        row = {"task": task.id, "config": label(config), "model": res.get("model"), "engine": res.get("engine"),
               "bug_kind": task.bug_kind,
               "status": res.get("status"),
               "exit": p.returncode, "seconds": round(wall, 2), "tokens": res.get("tokens", 0),
               "generated": (res.get("candidates") or {}).get("generated", 0),
               "validated": (res.get("candidates") or {}).get("validated", 0),
               "peak_rss_mb": round(peak[0] / 2**20, 1), "localized": bool(res.get("localization")),
               "loc_rank": loc_rank(res.get("localization", []),
                                    fix_targets(task.fix_lines, (task.project / task.file).read_text("utf-8", "replace"))),
               "winner": res.get("winner"), "diff": res.get("diff") or None, "error": res.get("error"),
               # how far the tool itself said to trust the fix, and what choosing it cost (pipeline.select)
               "confidence": (res.get("confidence") or {}).get("level"),
               "confidence_reasons": (res.get("confidence") or {}).get("reasons"),
               "unclaimed": len(res.get("unclaimed") or []),
               "alternatives": len(res.get("alternatives") or []),
               "selection_seconds": (res.get("selection") or {}).get("seconds"), "phases": res.get("phases"),
               "prompt_tokens": res.get("prompt_tokens"),  # prefilled and read from the prompt cache (llama.cpp)
               "trace": trace.read_text("utf-8", "replace") if trace.exists() else ""}  # record() files it apart
        after = run_tests(proj, task.test, timeout=600)
        row["fixed"] = res.get("status") == "fixed" and after.ok
        row["regressions"] = len(set(baseline.passing) & set(after.failing))
        if task.judge and not row["fixed"]:  # nothing to judge: running the bug's hidden suite can only hang
            row["correct"] = False
        elif task.judge:
            jrc, _ = _shell(task.judge, proj, env, JUDGE_TIMEOUT)
            row["correct"] = jrc == 0
            # every candidate that passed, judged too: what a choice at random among them would have got
            row["passing_correct"] = [_judge_diff(task, p["diff"], work / f"passing-{i}", env)
                                      for i, p in enumerate((res.get("passing") or [])[:JUDGED_PASSING])]
        else:
            row["correct"] = None
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def apply_diff(text: str, diff: str) -> str:
    """`text` with a unified diff (as `debugger fix` prints it) applied; ValueError where it does not fit."""
    import re
    lines = text.splitlines(keepends=True)
    out, at = [], 0
    body = diff.splitlines(keepends=True)
    i = 0
    while i < len(body):
        m = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", body[i])
        i += 1
        if not m:
            continue
        start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
        out += lines[at:start]
        at = start
        while i < len(body) and not body[i].startswith("@@"):
            tag, content = body[i][:1], body[i][1:]
            if tag in (" ", "-"):
                if at >= len(lines) or lines[at].rstrip("\r\n") != content.rstrip("\r\n"):
                    raise ValueError(f"the diff does not fit the file at line {at + 1}")
                if tag == " ":
                    out.append(lines[at])
                at += 1
            elif tag == "+":
                out.append(content)
            i += 1
    return "".join(out + lines[at:])


def _judge_diff(task: Task, diff: str, where: Path, env: dict) -> bool | None:
    """Whether the task's hidden judge accepts the bug with `diff` applied (None: the diff does not apply)."""
    from debugger.source import load
    # the whole task folder: its judge may sit beside the project (`../judge_test.py`), as run_pair has it
    shutil.copytree(task.dir, where, ignore=shutil.ignore_patterns("__pycache__"))
    target = where / "task" / task.file
    src = load(target, where / "task")
    try:
        text = apply_diff(src.text, diff)
    except ValueError:
        return None
    target.write_bytes(text.encode(src.encoding))
    try:
        return _shell(task.judge, where / "task", env, JUDGE_TIMEOUT)[0] == 0
    finally:
        shutil.rmtree(where, ignore_errors=True)


def provenance(configs: list[str], out: Path | None = None) -> dict:
    from debugger.provenance import provenance as base
    return {**base(out), "configs": {c: config_path(c).read_text() for c in configs}}


def run(tasks: list[Task], configs: list[str], out: Path, *, jobs: int = 1, time_limit: float = 900,
        extra: list[str] | None = None, on_row: Callable[[dict], None] | None = None,
        ray: str | None = None, ray_cpus: int = 2) -> list[dict]:
    """Every (task, config) pair not yet in OUT/results.jsonl, each row appended as it finishes: on `jobs`
    local threads, or with `ray` (an address, `auto`, or `local` to start an instance here) as Ray tasks that
    ask for `ray_cpus` CPUs each (the model gets one less, as `debugger fix` leaves one core to the tests)."""
    out.mkdir(parents=True, exist_ok=True)
    here = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(here + os.pathsep):  # run_tests below sees this python too
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")
    for c in configs:
        config_path(c)
    results = out / "results.jsonl"
    rows = [json.loads(ln) for ln in results.read_text().splitlines() if ln.strip()] if results.exists() else []
    done = {(r["task"], r["config"]) for r in rows}
    prov = out / "provenance.json"
    if not prov.exists():
        prov.write_text(json.dumps({**provenance(configs, out), "overrides": extra or []}, indent=2))
    else:  # a config added to an existing run is recorded too
        known = json.loads(prov.read_text())
        if set(configs) - set(known.get("configs", {})):
            known["configs"] = {**known.get("configs", {}), **{c: config_path(c).read_text() for c in configs}}
            prov.write_text(json.dumps(known, indent=2))
    # task by task, every config in turn: a machine that slows down during the run slows every config alike
    pairs = [(t, c) for t in tasks for c in configs if (t.id, label(c)) not in done]
    # parallel jobs split the cores (more threads than free cores is a cliff); one job runs the defaults
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    lock = threading.Lock()

    def record(row: dict) -> dict:
        trace = row.pop("trace", "")
        with lock:
            if trace:
                _keep_trace(out, row, trace)
            with results.open("a") as f:
                f.write(json.dumps(redact_obj(row)) + "\n")  # diffs and errors quote the task's source
            rows.append(row)
            if on_row:
                on_row(row)
        return row

    def work(pair, threads: int | None) -> dict:
        return run_pair(pair[0], pair[1], time_limit=time_limit, threads=threads, extra=extra or [])

    if ray is not None:
        _on_ray(pairs, ray, ray_cpus, prov, work, record)
        return rows
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        list(ex.map(lambda pair: record(work(pair, threads)), pairs))
    return rows


def _keep_trace(out: Path, row: dict, trace: str) -> None:
    """A pair's trace as OUT/traces/CONFIG/TASK.jsonl, each line redacted (the prompts and edits quote the task's
    source); a line cut short by a killed repair is left out."""
    def plain(name: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    lines = []
    for ln in trace.splitlines():
        try:
            lines.append(json.dumps(redact_obj(json.loads(ln))))
        except json.JSONDecodeError:
            continue
    where = out / "traces" / plain(row["config"])
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{plain(row['task'])}.jsonl").write_text("".join(ln + "\n" for ln in lines))


def _on_ray(pairs: list, address: str, cpus: int, prov: Path, work: Callable, record: Callable) -> None:
    """Run `work(pair, threads)` for every pair as a Ray task that declares `cpus` CPUs; record each row as it
    finishes (ray.wait), so results stream into results.jsonl and an interrupted run resumes. The task folders
    and the projects' virtualenvs must be at the same paths on every node (a shared file system)."""
    if not pairs:
        return
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: pip install 'debugger[ray]'") from None
    here = str(Path(sys.executable).parent)
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": here + os.pathsep + os.environ.get("PATH", "")}
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env})
    try:
        known = json.loads(prov.read_text())
        known.setdefault("ray", []).append({"address": address, "nodes": len([n for n in ray.nodes() if n["Alive"]]),
                                            "cpus": ray.cluster_resources().get("CPU"), "cpus_per_task": cpus})
        prov.write_text(json.dumps(known, indent=2))
        remote = ray.remote(num_cpus=cpus, max_retries=0)(work)
        pending = {remote.remote(p, max(1, cpus - 1)): p for p in pairs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            pair = pending.pop(ready[0])
            try:
                row = ray.get(ready[0])
            except Exception as e:  # a worker lost or a task that raised: a crash row, the run goes on
                row = {"task": pair[0].id, "config": label(pair[1]), "bug_kind": pair[0].bug_kind, "status": "crash",
                       "error": str(e)[-2000:], "seconds": 0.0, "tokens": 0, "fixed": False,
                       "correct": False if pair[0].judge else None}
            record(row)
    finally:
        if started:
            ray.shutdown()
