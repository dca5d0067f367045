"""`debugger train --sweep GRID.toml`: training settings chosen by fix rate, not by loss.

Each point of a small grid is trained briefly into OUT/trials/tNN and scored by `debugger eval` on tasks
of the valid split (never the test split), with the model writing every candidate (the probe's mutants
are left out: they fix bugs whatever the weights). The best trial (most correct fixes; then most fixed;
then the lower eval loss) is copied to OUT as the adapter, with the sweep's table (sweep.json, every
trial's settings and figures; sweep.md, the same as a page) and plot (sweep.png) beside it. The base model
alone is scored first on the same tasks and with the trials' window (trial `base`, a line on the plot; one
`base-wN` per window when the grid varies it): the bar a trial's fix rate must clear. A rerun resumes:
finished trials are kept; given other tasks to score on (`--sweep-tasks`, say, to add a project), every row is
scored again and no trial trained again. A task that is one of the training split's bugs is refused.

The grid file: each list is one axis and the trials are their product (`trials` caps it to a seeded
random subset); `[trial]` holds what every trial shares.

    lr = [1e-4, 2e-4, 4e-4]
    r = [8, 16]                  # LoRA rank; alpha is twice the rank
    context_lines = [24]         # lines on each side of the span, in training and in `debugger fix`
    epochs = [1.0]
    [trial]
    max_steps = 40               # optimizer steps per trial (-1: the epochs)
    max_examples = 300
    max_length = 1536            # tokens per example (default: the preset's); real bugs' prompts run long
    eval_tasks = 20              # valid-split tasks each trial is scored on
    budget = 60                  # seconds per repair
    trials = 6                   # at most this many grid points
    score = "repair"             # or "weights": greedy patches at each task's true lines, no budget (eval/weights.py)

`score = "weights"` scores the weights alone: no localization, no time budget, the same figures on a busy
machine as on an idle one, about 10 s a task on 2 cores instead of a repair's minute.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from debugger.engines.packs import SMALL_MODEL  # the trials' base, unless --base

from .config import PRESETS, TrainConfig, make

AXES = {"lr": float, "r": int, "context_lines": int, "epochs": float}
SHARED = {"max_steps": int, "max_examples": int, "max_length": int, "eval_tasks": int, "budget": float,
          "trials": int, "score": str}
SCORES = ("repair", "weights")
MODEL_WRITES = 'formats = ["infill", "rewrite"]'  # a config line: the model's own candidates only, no probe mutants
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "debugger_train.json", "curves.jsonl",
                 "curves.png")


@dataclass
class Grid:
    axes: dict[str, list] = field(default_factory=lambda: {"lr": [2e-4]})
    max_steps: int = 40
    max_examples: int | None = 300
    max_length: int | None = None  # tokens per example (None: the preset's); longer examples are dropped
    eval_tasks: int = 20
    budget: float = 60.0
    trials: int | None = None
    score: str = "repair"  # repair: `debugger eval` at `budget`; weights: eval/weights.py (true lines, greedy)

    def points(self) -> list[dict]:
        names = list(self.axes)
        grid = [dict(zip(names, values)) for values in itertools.product(*(self.axes[n] for n in names))]
        if self.trials is not None and self.trials < len(grid):
            grid = random.Random(0).sample(grid, self.trials)
        return grid


def read_grid(path: str | Path) -> Grid:
    """The grid file, checked: unknown keys, empty axes and wrong types are one-line errors."""
    import tomllib
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: {e}") from None
    shared = raw.pop("trial", {})
    if not isinstance(shared, dict):
        raise ValueError(f"{path}: [trial] must be a table")
    axes = {}
    for key, values in raw.items():
        if key not in AXES:
            raise ValueError(f"{path}: unknown axis {key!r} (have: {', '.join(AXES)})")
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: {key} must be a non-empty list")
        axes[key] = [_typed(path, key, v, AXES[key]) for v in values]
    if not axes:
        raise ValueError(f"{path}: no axis to sweep (use any of {', '.join(AXES)})")
    bad = set(shared) - set(SHARED)
    if bad:
        raise ValueError(f"{path}: unknown [trial] setting(s) {sorted(bad)} (have: {', '.join(SHARED)})")
    return Grid(axes, **{k: _typed(path, k, v, SHARED[k]) for k, v in shared.items()})


def _typed(path, key: str, value, kind: type):
    if kind is str:
        if value not in SCORES:
            raise ValueError(f"{path}: {key} = {value!r} is not one of {', '.join(SCORES)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"{path}: {key} = {value!r} is not {'an integer' if kind is int else 'a number'}")
    if value <= 0 and key not in ("max_steps",):
        raise ValueError(f"{path}: {key} = {value!r} must be positive")
    return kind(value)


def _eval_config(trial: Path, grid: Grid, base: str | None, adapter: Path | None, window: int | None = None) -> Path:
    """The shipped settings but for the adapter (none: the base alone) and the base model, the model's own
    candidates only. An adapter is prompted with the window it trained on (`debugger fix` reads it from the
    adapter); the base alone is given `window`, the trials' window, or it would see the whole file: prompts
    many times longer, slower to read on a CPU and not what the trials are scored on."""
    lines = ['strategy = "debugger"', f'adapter = "{adapter.resolve() if adapter else "none"}"',
             MODEL_WRITES, f"budget = {grid.budget}", f'model = "{base or SMALL_MODEL}"']
    if adapter is None and window is not None:
        lines.append(f"context_lines = {window}")
    trial.mkdir(parents=True, exist_ok=True)
    path = trial / f"{trial.name}.toml"  # the eval reports a config by its file's stem: the trial's name
    path.write_text("\n".join(lines) + "\n")
    return path


def sweep(data: str, out: str | Path, grid: Grid, *, preset: str = "cpu", base: str | None = None,
          threads: int | None = None, bench=None, time_limit: float = 900,
          on_event: Callable[[str, dict], None] | None = None) -> dict:
    """Train and score every trial (resuming finished ones), keep the best as OUT; returns sweep.json's content.
    `bench`: the tasks to score on (default: `eval_tasks` records of the data's valid split)."""
    from debugger.eval import tasks
    from debugger.provenance import provenance

    from .train import train
    emit = on_event or (lambda name, payload: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if bench is None:
        bench = tasks.from_records(Path(data), out / "trials" / "tasks", split="valid", limit=grid.eval_tasks)
    if not bench:
        raise ValueError(f"{data}: no valid-split records to score the trials on (run `debugger data split`)")
    _check_unseen(bench, data)
    scored_on = _bench_id(bench)
    table = out / "trials" / "trials.jsonl"
    table.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(ln) for ln in table.read_text().splitlines() if ln.strip()] if table.exists() else []
    points = grid.points()
    windows = {_window(p, preset) for p in points}
    bases = {w: "base" if len(windows) == 1 else f"base-w{w if w is not None else 'all'}" for w in windows}
    # a base row is kept only at the window its name now stands for: one without a window predates the window
    # being given to the base (it saw whole files), one at another window is of another grid; both are scored again
    kept = [r for r in rows if not r["trial"].startswith("base") or bases.get(r.get("context_lines", -1)) == r["trial"]]
    kept = [r for r in kept if r.get("score", "repair") == grid.score]  # a row scored the other way is scored again
    kept = [r for r in kept if r.get("bench") == scored_on]  # and one scored on other tasks (a trial is not retrained)
    if len(kept) < len(rows):
        table.write_text("".join(json.dumps(r) + "\n" for r in kept))
        rows = kept
    done = {r["trial"] for r in rows}
    for w, name in sorted(bases.items(), key=lambda kv: kv[1]):  # the bar every trial must clear, per window
        if name in done:
            continue
        emit("trial", {"trial": name, "index": 0, "of": len(points), "context_lines": w})
        shutil.rmtree(out / "trials" / name / "eval", ignore_errors=True)
        rows.append(_score(out / "trials" / name, None, grid, base, bench, {"context_lines": w}, None, time.time(),
                           table, time_limit, emit, window=w))
    for i, point in enumerate(points):
        name = f"t{i:02d}"
        if name in done:
            continue
        emit("trial", {"trial": name, "index": i, "of": len(points), **point})
        t0 = time.time()
        trial = out / "trials" / name
        lora = dict(PRESETS[preset].get("lora", {}))
        if "r" in point:
            lora.update(r=point["r"], alpha=2 * point["r"])
        cfg = make(data, str(trial), preset, base=base, threads=threads, lr=point.get("lr"),
                   epochs=point.get("epochs"), context_lines=point.get("context_lines"), max_steps=grid.max_steps,
                   max_examples=grid.max_examples, max_length=grid.max_length, **({"lora": lora} if lora else {}))
        summary = _trained(cfg) or train(cfg, lambda n, p, name=name: emit(n, {**p, "trial": name}))
        rows.append(_score(trial, trial, grid, base, bench, point, summary, t0, table, time_limit, emit))
    references = {r["trial"]: r for r in rows if r["trial"] in bases.values()}
    rows = [r for r in rows if r["trial"] in {f"t{i:02d}" for i in range(len(points))}]
    best = max(rows, key=lambda r: (r["correct"], r["fixed"], -(r["eval_loss"] if r["eval_loss"] is not None
                                                                else math.inf)))
    reference = references[bases[_window(best, preset)]]  # the base at the chosen trial's window
    for f in ADAPTER_FILES:
        if (out / "trials" / best["trial"] / f).exists():
            shutil.copy2(out / "trials" / best["trial"] / f, out / f)
    result = {"grid": asdict(grid), "preset": preset, "base": base, "trials": rows, "chosen": best,
              "without_adapter": reference, "bases": sorted(references.values(), key=lambda r: r["trial"]),
              "tasks": [t.id for t in bench], "provenance": provenance()}
    (out / "sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "sweep.md").write_text(markdown(result))
    plot(rows, best["trial"], out / "sweep.png", reference)
    return result


def markdown(result: dict) -> str:
    """sweep.json as a Markdown page: one row per trial (the base first), the chosen one in bold."""
    axes = [k for k in AXES if any(k in r for r in result["trials"])]
    grid = result["grid"]
    weights = grid.get("score") == "weights"
    shared = ", ".join(f"{k} {grid[k]:g}" for k in ("max_steps", "max_examples", "max_length", "budget")
                       if grid.get(k) is not None and not (weights and k == "budget"))
    shared += "" if weights else " (seconds per repair)"
    scored = "the weights alone: each task's true lines patched greedily, no time budget" if weights else "repairs"
    windows = sorted({b["context_lines"] for b in result.get("bases", []) if b.get("context_lines")})
    if windows and "context_lines" not in axes:  # shown per row when the grid varies it
        shared += f", window {windows[0]} lines each side of the span (the base alone too)"
    prov = result["provenance"]
    lines = [f"# Training sweep: {len(result['trials'])} trials scored by fix rate on {len(result['tasks'])} tasks",
             "", f"Shared: {shared}. Scored by {scored}. Commit {prov.get('git_sha', '?')[:12]}, "
             f"{prov.get('started', '?')}. Correct: the fix passes the task's hidden judge.", "",
             "| trial | " + " | ".join(axes) + " | correct | fixed | crashes | eval loss | minutes |",
             "|---" * (len(axes) + 6) + "|"]
    for r in [*result.get("bases", [result["without_adapter"]]), *result["trials"]]:
        chosen = r["trial"] == result["chosen"]["trial"]
        name = (f"**{r['trial']}** (chosen)" if chosen else f"{r['trial']} (no adapter)" if r["trial"].startswith("base")
                else r["trial"])
        loss = f"{r['eval_loss']:.3f}" if r.get("eval_loss") is not None else "-"
        lines.append(f"| {name} | " + " | ".join(f"{r[k]:g}" if k in r else "-" for k in axes)
                     + f" | {r['correct']}/{r['tasks']} | {r['fixed']}/{r['tasks']} | {r['crashes']} | {loss} | "
                     f"{r['seconds'] / 60:.1f} |")
    return "\n".join(lines) + "\n"


def _window(point: dict, preset: str) -> int | None:
    """The window (lines each side of the span) a trial at `point` trains with, so is prompted with."""
    return point["context_lines"] if "context_lines" in point else PRESETS[preset].get("context_lines", _DEFAULT_WINDOW)


_DEFAULT_WINDOW = TrainConfig.context_lines


def _score(folder: Path, adapter: Path | None, grid: Grid, base: str | None, bench: list, point: dict,
           summary: dict | None, t0: float, table: Path, time_limit: float, emit, window: int | None = None) -> dict:
    """Score one adapter (None: the base alone, prompted with `window`) by `debugger eval` and append its row
    to the table."""
    from debugger.eval import report, runner
    name = folder.name
    on_row = lambda r: emit("row", {**r, "trial": name})  # noqa: E731
    if grid.score == "weights":
        from debugger.config import adapter_context_lines
        from debugger.eval import weights
        model = weights.Model(name, base or SMALL_MODEL, str(adapter.resolve()) if adapter else None)
        # every trial is prompted with the failure text the first one scored read (it names a scratch folder,
        # another each run), so that trials differ only in their weights
        own, shared = folder / "eval-weights" / "failures.json", folder.parent / "failures.json"
        _merge(shared, into=own)
        scored = weights.run(bench, [model], folder / "eval-weights", on_row=on_row,
                             window=adapter_context_lines(str(adapter)) if adapter else window)
        _merge(own, into=shared)
    else:
        config = _eval_config(folder, grid, base, adapter, window)
        scored = runner.run(bench, [str(config)], folder / "eval", time_limit=time_limit, on_row=on_row)
    figures = report.summarize(scored)[name]
    row = {"trial": name, **point, "score": grid.score, "bench": _bench_id(bench), "tasks": figures["tasks"],
           "fixed": figures["fixed"], "correct": figures["correct"], "correct_rate": figures["correct_rate"],
           "crashes": figures["crashes"],
           "train_loss": summary["train_loss"] if summary else None,
           "eval_loss": summary["eval_loss"] if summary else None, "seconds": round(time.time() - t0, 1)}
    with table.open("a") as f:
        f.write(json.dumps(row) + "\n")
    emit("scored", row)
    return row


def _bench_id(bench: list) -> str:
    """The scored tasks, named: a row scored on other tasks (the bench grew, say) is scored again."""
    return hashlib.sha256("\n".join(sorted(t.id for t in bench)).encode()).hexdigest()[:12]


def _check_unseen(bench: list, data: str) -> None:
    """A trial scored on a bug it trained on would be rewarded for recall, not for repair."""
    from debugger.data.schema import read_jsonl
    trained = {f"{r.project}-{r.id}" for r in read_jsonl(Path(data)) if r.split == "train"}
    seen = [t.id for t in bench if t.id in trained]
    if seen:
        raise ValueError(f"{len(seen)} task(s) to score on are bugs of {data}'s train split ({', '.join(seen[:3])}): "
                         "the trials would be scored on what they learned")


def _trained(cfg: TrainConfig) -> dict | None:
    """The summary of a trial already trained with these settings on this data (its scoring is redone when the
    tasks change; its training need not be), else None. Where it was trained is not a setting, nor the path the
    data was named by (its hash is compared): an adapter trained by `debugger train` with the same settings,
    copied into the trial's folder, counts as the trial."""
    from .dataset import data_hash
    folder = Path(cfg.out)
    done = folder / "debugger_train.json"
    if not (done.exists() and (folder / "adapter_model.safetensors").exists()):
        return None
    saved = json.loads(done.read_text())
    settings = lambda c: {k: v for k, v in c.items() if k not in ("out", "data")}  # noqa: E731
    same = (settings(saved.get("config", {})) == settings(json.loads(json.dumps(asdict(cfg))))
            and saved.get("data_sha256") == data_hash(cfg.data))
    return saved if same else None


def _merge(src: Path, into: Path) -> None:
    """Add SRC's failure texts to INTO's (a JSON object of task id -> text); INTO's own texts are kept."""
    if not src.exists():
        return
    known = json.loads(into.read_text()) if into.exists() else {}
    into.parent.mkdir(parents=True, exist_ok=True)
    into.write_text(json.dumps({**json.loads(src.read_text()), **known}, indent=1))


def plot(rows: list[dict], chosen: str, png: Path, reference: dict | None = None) -> None:
    """Correct fixes per trial (the chosen one marked), its settings under each bar, the base model's rate
    as a line, eval loss beside."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(rows) + 2), 3.8))
    xs = range(len(rows))
    rates = [100 * r["correct"] / r["tasks"] if r["tasks"] else 0 for r in rows]
    ax.bar(xs, rates, color=["tab:green" if r["trial"] == chosen else "tab:blue" for r in rows])
    ax.set_xticks(list(xs), ["\n".join(f"{k}={r[k]:g}" for k in AXES if k in r) for r in rows], fontsize=7)
    base_rate = 100 * reference["correct"] / reference["tasks"] if reference and reference["tasks"] else None
    if base_rate is not None:
        ax.axhline(base_rate, color="gray", linestyle=":", label="no adapter")
        ax.legend(loc="upper left", fontsize=7)
    ax.set_ylim(0, 1.3 * max(rates + [base_rate or 0, 1]))  # headroom: the legend sits above the bars
    ax.set_ylabel("correct fixes, % of valid tasks")
    ax.set_title("training sweep: fix rate per trial (green: chosen)")
    losses = [(i, r["eval_loss"]) for i, r in enumerate(rows) if r["eval_loss"] is not None]
    if losses:
        twin = ax.twinx()
        twin.plot(*zip(*losses), "o--", color="tab:orange")
        lo, hi = min(v for _, v in losses), max(v for _, v in losses)
        pad = (hi - lo) or 0.05 * hi
        twin.set_ylim(lo - 0.2 * pad, hi + 0.6 * pad)  # the highest loss stays below the legend
        twin.set_ylabel("eval loss", color="tab:orange")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
