"""Scaling out, for real: the default model served over llama.cpp's OpenAI-compatible HTTP API (`debugger
model serve`, as on a GPU box) and a repair through `--model openai:URL#NAME`, the model's own candidates
only, so every token crosses the wire."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_a_repair_through_the_openai_compatible_server_of_the_default_model(tmp_path):
    key = "k" * 24
    env = dict(os.environ, OPENAI_API_KEY=key, PYTHONDONTWRITEBYTECODE="1")
    server = subprocess.Popen([sys.executable, "-m", "debugger.cli", "model", "serve", "--port", "0", "--threads", "1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        spec, deadline, seen = None, time.monotonic() + 180, []
        while spec is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"--model '(openai:http://127\.0\.0\.1:\d+/v1#qwen2\.5-coder-1\.5b)'", line)  # the default, no adapter
            spec = m and m.group(1)
        assert spec, "".join(seen)
        assert not any(key in ln for ln in seen)  # a key from the environment is never printed
        # without the key the server answers 401: no other local process uses the model
        import urllib.error
        import urllib.request
        url = spec.split("#")[0][len("openai:"):]
        with pytest.raises(urllib.error.HTTPError) as no_key:
            urllib.request.urlopen(urllib.request.Request(url + "/completions", data=b'{"prompt": "x"}',
                                                          headers={"Content-Type": "application/json"}), timeout=30)
        assert no_key.value.code == 401
        project = tmp_path / "wrong_operator"
        shutil.copytree(EXAMPLES / "wrong_operator", project)
        target = json.loads((project / "bug.json").read_text())["file"]
        p = subprocess.run([sys.executable, "-m", "debugger.cli", "fix", target, "--model", spec, "--json",
                            "--formats", "infill,rewrite", "--budget", "240"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=400)
        res = json.loads(p.stdout)
        assert res["status"] == "fixed" and res["engine"] == "openai" and res["model"] == spec, (res, p.stderr[-2000:])
        assert res["tokens"] > 0 and not res["winner"]["origin"].startswith("mutant")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
