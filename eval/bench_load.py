"""Start-up cost of the model with and without the shipped adapter, each in a fresh process.

    python eval/bench_load.py [--model qwen2.5-coder-0.5b] [--adapter PATH] [--repeat 3]

Prints the median seconds to a ready generator for: the base alone, the adapter folded in by
debugger.engines.lora (what `debugger fix` does), and the adapter through peft (import + merge_and_unload).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


CHILD = r"""
import json, sys, time
t0 = time.time()
from debugger.engines.hf import HFGenerator
spec, adapter, how = sys.argv[1], sys.argv[2] or None, sys.argv[3]
if how == "peft":
    from debugger.engines import lora
    lora.merge = lambda model, adapter: False  # force the peft path
gen = HFGenerator(spec, adapter, threads=2)
print(json.dumps({"seconds": time.time() - t0, "peft_imported": "peft" in sys.modules}))
"""


def main(argv: list[str] | None = None) -> int:
    from debugger.config import shipped_adapter
    from debugger.engines.packs import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--adapter")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    adapter = args.adapter or shipped_adapter(args.model)
    if not adapter:
        print(f"no adapter: pass --adapter (none ships for {args.model})", file=sys.stderr)
        return 2
    print(f"{args.model}, adapter {adapter}, median of {args.repeat} fresh processes")
    for label, ad, how in (("base alone", "", "ours"), ("adapter, debugger.engines.lora", adapter, "ours"),
                           ("adapter, peft merge", adapter, "peft")):
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", CHILD, args.model, ad, how], capture_output=True,
                                 text=True, check=True, cwd=Path(__file__).resolve().parents[1])
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        secs = statistics.median(r["seconds"] for r in runs)
        print(f"  {label:<22} {secs:6.1f} s   peft imported: {runs[0]['peft_imported']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
