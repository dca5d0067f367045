"""The localization bench's arithmetic: bug cases, the hit test, ranks and hit rates, the listwise fit of
the feature weights, and the cases cache (eval/bench_localize.py collects the cases and reports)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from debugger.localization.ranking import FEATURES, HAND_SET, INFILL, MUTATION, SURPRISAL, WEIGHTS_FILE, suspects, weights_for

from debugger.eval.tasks import fix_targets, holds

KS = (1, 3, 5)
SINGLE = {  # each signal alone (they all still define which lines are candidates); ties: later line first
    "traceback": ({"syntax": 10, "traceback": 1}, "ochiai"),
    "ochiai": ({"spectrum": 1}, "ochiai"),
    "dstar": ({"spectrum": 1}, "dstar"),
    "branch": ({"branch": 1}, "ochiai"),
    "surprisal": ({"surprisal": 1}, "ochiai"),
}
L2 = 0.01  # on the fitted weights: ~100 training bugs, 17 features


@dataclass(eq=False)  # hashed by identity: matrix() caches per case
class Case:
    id: str
    split: str
    kind: str
    fix: tuple[int, int]  # buggy-side lines of the reference change; end < start: an insertion
    test_seconds: float
    surprisal_seconds: float
    src: object = None
    report: object = None
    surprisal: dict | None = None
    tokens: dict | None = None  # line -> every token's NLL (surprisal is their mean)
    infill: dict | None = None  # (start, end) -> the infill pass's token scores, for the first ranking's top
    mutation: dict | None = None  # (start, end) -> the mutation probe's scores, for the first ranking's top
    mutation_seconds: float = 0.0
    mutants_run: int = 0
    targets: list | None = None  # what a span must contain to hold the fix (tasks.fix_targets), on first use


def is_hit(case: Case, start: int, end: int) -> bool:
    """Does the span hold the reference fix: its changed lines, or for an insertion the statement before
    or after the gap."""
    if case.targets is None:
        case.targets = fix_targets(case.fix, case.src.text)
    return holds(case.targets, start, end)


@functools.lru_cache(maxsize=None)
def matrix(case: Case, formula: str):
    """The case's candidates as a feature matrix (rows in file order), their start lines and hit flags."""
    import numpy as np
    cands, _ = suspects(case.src, case.report, case.tokens or case.surprisal, formula, case.infill, case.mutation)
    x = np.array([[c.features[f] for f in FEATURES] for c in cands], dtype=float).reshape(len(cands), len(FEATURES))
    starts = np.array([c.span.start_line for c in cands], dtype=float)
    hits = np.array([is_hit(case, c.span.start_line, c.span.end_line) for c in cands], dtype=bool)
    return x, starts, hits


def hit_rank(case: Case, weights: dict, formula: str) -> int | None:
    """Rank (1-based) of the first statement holding the fix, ranked as `localize` ranks them."""
    import numpy as np
    x, starts, hits = matrix(case, formula)
    if not hits.any():
        return None
    score = x @ np.array([weights.get(f, 0.0) for f in FEATURES])
    order = np.lexsort((-starts, -score))  # by score, then the later line first (localize's tie-break)
    return int(np.flatnonzero(hits[order])[0]) + 1


def rates(cases: list[Case], weights: dict, formula: str) -> dict[str, float]:
    return _rates([hit_rank(c, weights, formula) for c in cases])


def _rates(ranks: list[int | None]) -> dict[str, float]:
    return {f"top{k}": sum(r is not None and r <= k for r in ranks) / max(1, len(ranks)) for k in KS}


def project(case: Case) -> str:
    return case.id.rsplit("-", 1)[0]


def project_cv(cases: list[Case], fit_without) -> dict[str, list[int | None]]:
    """Leave-one-project-out: project -> its bugs' hit ranks under the weights `fit_without(the other
    projects' cases)` returns. The fit split's own check on a choice the held-out split must not make."""
    return {p: [hit_rank(c, w, "ochiai") for c in cases if project(c) == p]
            for p in sorted({project(c) for c in cases})
            for w in [fit_without([c for c in cases if project(c) != p])]}


def pooled(ranks: dict[str, list[int | None]], projects=None) -> dict[str, float]:
    """Hit rates over the bugs of `projects` (all by default), each bug counted once."""
    return _rates([r for p, rs in ranks.items() if projects is None or p in projects for r in rs])


def cross_validate(cases: list[Case], procedures: dict) -> dict:
    """Leave-one-project-out over the fit split for each fitting procedure (name -> cases -> weights), and
    the runtime's weights as they are on the projects their own fit never saw. The procedure chosen is
    the one whose held-back projects fare best at top-3, then top-1: a choice made without the held-out
    split."""
    ranks = {name: project_cv(cases, f) for name, f in procedures.items()}
    runtime = weights_for()
    projects = sorted({project(c) for c in cases})
    ranks["the runtime's weights"] = {p: [hit_rank(c, runtime, "ochiai") for c in cases if project(c) == p]
                                      for p in projects}
    seen = json.loads(WEIGHTS_FILE.read_text()).get("fitted_on", {}).get("projects", []) if WEIGHTS_FILE.exists() else []
    unseen = [p for p in projects if p not in seen]
    best = max(procedures, key=lambda n: (pooled(ranks[n])["top3"], pooled(ranks[n])["top1"]))
    return {"projects": projects, "bugs": len(cases), "runtime_fitted_on": seen, "unseen_by_runtime": unseen,
            "rates": {n: pooled(r) for n, r in ranks.items() if n in procedures},
            "rates_unseen": {n: pooled(r, unseen) for n, r in ranks.items()} if unseen else {},
            "by_project": {n: {p: pooled(r, [p]) | {"n": len(r[p])} for p in projects} for n, r in ranks.items()},
            "chosen": best}


def first_round(surprisal: bool) -> tuple[str, ...]:
    """The features the first round fits: all but syntax (hand-set) and the second-round ones."""
    return tuple(f for f in FEATURES if f != "syntax" and f not in INFILL + MUTATION
                 and (surprisal or f not in SURPRISAL))


def fit(cases: list[Case], surprisal: bool, formula: str = "ochiai", steps: int = 3000,
        second: dict | None = None, free: tuple[str, ...] = INFILL) -> dict[str, float]:
    """Listwise linear ranker: softmax over each bug's candidates, cross-entropy on the buggy ones,
    L2 on the weights, Adam. Syntax keeps its hand-set weight (too few broken files to learn from).
    First round: `first_round` features. `second`: the weights to start from, only the `free` features
    fitted (the infill or mutation ones alone on top of the first round's, whose ranking picked what
    their pass scored; or those with the first round's features refit beside them)."""
    import numpy as np
    data = [(x, hits) for x, _, hits in (matrix(c, formula) for c in cases) if hits.any() and len(hits) > 1]
    if second is not None:
        free = [FEATURES.index(f) for f in free]
        w = np.array([second.get(f, 0.0) for f in FEATURES])
    else:
        free = [FEATURES.index(f) for f in first_round(surprisal)]
        w = np.zeros(len(FEATURES))
        for f, v in HAND_SET.items():
            w[FEATURES.index(f)] = v if surprisal or not f.startswith("surprisal") else 0.0
    m, v2 = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        grad = np.zeros_like(w)
        for x, hits in data:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            target = hits / hits.sum()
            grad += x.T @ (p - target)
        grad = grad / len(data) + L2 * w
        mask = np.zeros_like(w)
        mask[free] = 1
        grad *= mask
        m = 0.9 * m + 0.1 * grad
        v2 = 0.999 * v2 + 0.001 * grad * grad
        w -= 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v2 / (1 - 0.999 ** t)) + 1e-8)
    return {f: round(float(w[i]), 4) for i, f in enumerate(FEATURES) if abs(w[i]) > 1e-6}


def save_cases(cases: list[Case], path: Path, append: bool = False) -> None:
    with path.open("a" if append else "w") as f:
        for c in cases:
            tests = {n: {"outcome": t.outcome, "lines": t.lines, "arcs": t.arcs, "recent": t.recent,
                         "message": t.message[-600:],
                         "frames": [[fr.file, fr.line, fr.name] for fr in t.frames]}
                     for n, t in c.report.tests.items()}
            f.write(json.dumps({"id": c.id, "split": c.split, "kind": c.kind, "fix": c.fix, "test_seconds": c.test_seconds,
                                "surprisal_seconds": c.surprisal_seconds, "path": str(c.src.path),
                                "root": str(c.src.root), "text": c.src.text, "tests": tests,
                                "surprisal": c.surprisal, "tokens": c.tokens,
                                "infill": [[s, e, t] for (s, e), t in (c.infill or {}).items()] or None,
                                "mutation": [[s, e, m] for (s, e), m in (c.mutation or {}).items()] or None,
                                "mutation_seconds": c.mutation_seconds, "mutants_run": c.mutants_run}) + "\n")


def load_cases(path: Path, split: str) -> list[Case]:
    from debugger.source import SourceFile
    from debugger.testrun import Frame, TestCase, TestReport
    cases = []
    for ln in path.read_text().splitlines():
        d = json.loads(ln)
        if d["split"] != split:
            continue
        src = SourceFile(Path(d["path"]), Path(d["root"]), d["text"].encode(), "utf-8", False, d["text"], 0o644)
        tests = {n: TestCase(n, t["outcome"], t.get("message", ""), [Frame(*f) for f in t["frames"]], t["lines"],
                             {}, [tuple(a) for a in t.get("arcs", [])], t.get("recent", []))
                 for n, t in d["tests"].items()}
        sur = {int(k): v for k, v in d["surprisal"].items()} if d["surprisal"] else None
        toks = {int(k): v for k, v in d["tokens"].items()} if d.get("tokens") else None
        infill = {(s, e): [tuple(p) for p in t] for s, e, t in d["infill"]} if d.get("infill") else None
        mut = {(s, e): m for s, e, m in d["mutation"]} if d.get("mutation") else None
        cases.append(Case(d["id"], d["split"], d["kind"], tuple(d["fix"]), d["test_seconds"], d["surprisal_seconds"],
                          src, TestReport("", 1, False, 0.0, "", tests), sur, toks, infill, mut,
                          d.get("mutation_seconds", 0.0), d.get("mutants_run", 0)))
    return cases
