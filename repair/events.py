"""The pipeline's progress events as small JSON objects: what `debugger serve` streams to its clients.

The pipeline emits (name, payload) with live objects (a TestReport, a Verdict); a client needs a few plain
fields of each. Unknown events pass through with their name only.
"""
from __future__ import annotations


def _span(a: int, b: int) -> dict:
    return {"start_line": a, "end_line": b}


def to_json(name: str, payload) -> dict:
    p = payload
    if name == "baseline_start" or name == "scorer":
        return {"command": p} if name == "baseline_start" else {"engine": p.engine}
    if name == "baseline":
        return {"tests": len(p.tests), "failing": p.failing, "seconds": round(p.seconds, 2), "hung": p.hung}
    if name == "model_progress":
        phase, done, total = p
        return {"phase": phase, "done": done, "total": total}
    if name == "model":
        return {"model": p.name, "engine": p.engine}
    if name == "localized":
        return {"statements": [_span(s.start_line, s.end_line) | {"score": round(s.score, 3), "why": s.why}
                               for s in p.statements[:8]],
                "functions": [{"name": f.name} | _span(f.start_line, f.end_line) for f in p.functions[:3]]}
    if name in ("mutation_start", "comparing"):
        return {"count": p}
    if name == "mutation":
        return {"run": p.run, "mutants": p.mutants, "seconds": round(p.seconds, 2), "error": p.error}
    if name == "prompt":
        return {"kind": p.kind} | _span(p.start_line, p.end_line)
    if name == "verdict":
        return {"origin": p.candidate.origin, "plausible": p.plausible, "remaining": p.remaining,
                "seconds": round(p.seconds, 2)}
    if name == "rejected":
        cand, reasons = p
        return {"origin": cand.origin, "reasons": reasons}
    if name == "round":
        rnd, step = p
        return {"round": rnd, "from": step.candidate.origin if step else None}
    if name == "selecting":
        return {"seconds": p}
    if name == "compared":
        return {"inputs": p.inputs, "behaviours": len(p.classes), "disagreements": len(p.disagreements),
                "seconds": p.seconds}
    return {}
