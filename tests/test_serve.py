"""`debugger serve`, driven over HTTP as a client drives it: a real server process, the fake model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import fixed

TOKEN = "test-token-0123456789"


@pytest.fixture
def server(tmp_path):
    """serve(root, *flags) -> base URL of a running `debugger serve`; stopped after the test."""
    procs = []

    def start(root: Path, *flags: str, own_home: bool = True) -> str:
        env = dict(os.environ, DEBUGGER_TOKEN=TOKEN)
        if own_home:  # the real model (slow test) lives in the user's cache
            env["DEBUGGER_HOME"] = str(tmp_path / "home")
        p = subprocess.Popen([sys.executable, "-m", "debugger.cli", "serve", "--port", "0", "--root", str(root), *flags],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        procs.append(p)
        t0 = time.monotonic()
        for line in p.stderr:
            if "listening on " in line:
                return line.split("listening on ", 1)[1].split()[0]
            assert time.monotonic() - t0 < 60, "the server did not start"
        raise AssertionError(f"the server exited: {p.wait()}")
    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def call(url: str, method: str = "GET", body=None, token: str | None = TOKEN, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def events(url: str) -> list[tuple[str, dict]]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    out, name = [], None
    with urllib.request.urlopen(req, timeout=120) as r:
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
                if name == "end":
                    return out
    return out


def wait(url: str, states=("done", "failed", "cancelled"), timeout: float = 120) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        _, job = call(url)
        if job["state"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job still {job['state']}")


def test_fix_over_http_streams_progress_and_keeps_the_model_warm(project, server):
    root = project("calc")
    before = (root / "calc.py").read_bytes()
    url = server(root, "--model", f"fake:{fixed('calc')}")
    assert call(f"{url}/v1/health", token=None) == (200, {"status": "ok", "model": f"fake:{fixed('calc')}",
                                                          "engine": "fake"})
    assert call(f"{url}/v1/fix", "POST", {"file": "calc.py"}, token=None)[0] == 401
    assert call(f"{url}/v1/fix", "POST", {"file": "calc.py"}, token="wrong")[0] == 401
    ask = {"select": 0, "formats": ["infill"]}  # the model's candidates only: the job must load it
    code, a = call(f"{url}/v1/fix", "POST", {"file": "calc.py", **ask})
    code2, b = call(f"{url}/v1/fix", "POST", {"file": str(root / "calc.py"), **ask})  # queued behind the first
    assert (code, code2) == (202, 202) and a["id"] != b["id"]
    seen = events(f"{url}/v1/jobs/{a['id']}/events")
    names = [n for n, _ in seen]
    assert names[0] == "state" and "baseline" in names and "verdict" in names and names[-1] == "end"
    assert seen[-1][1]["state"] == "done"
    job = wait(f"{url}/v1/jobs/{a['id']}")
    assert job["state"] == "done" and job["result"]["status"] == "fixed" and "+    return a * b" in job["result"]["diff"]
    assert (root / "calc.py").read_bytes() == before  # shown, not applied
    second = [n for n, _ in events(f"{url}/v1/jobs/{b['id']}/events")]
    assert "model" in names and "model" not in second  # loaded by the first job, kept warm for the second
    assert wait(f"{url}/v1/jobs/{b['id']}")["result"]["status"] == "fixed"
    code, c = call(f"{url}/v1/fix", "POST", {"file": "calc.py", "apply": True, "select": 0})
    assert wait(f"{url}/v1/jobs/{c['id']}")["result"]["applied"] is True
    assert (root / "calc.py").read_bytes() == fixed("calc").read_bytes()
    code, loc = call(f"{url}/v1/localize", "POST", {"file": "calc.py"})
    assert wait(f"{url}/v1/jobs/{loc['id']}")["result"]["failing"] == []  # fixed now: nothing fails
    assert call(f"{url}/openapi.json")[1]["paths"]["/v1/fix"]["post"]


def test_bad_requests_are_refused_with_their_status(project, server, tmp_path):
    root = project("calc")
    (tmp_path / "outside.py").write_text("x = 1\n")
    url = server(root, "--model", f"fake:{fixed('calc')}")
    assert call(f"{url}/v1/fix", "POST", raw=b"{not json")[0] == 400
    assert call(f"{url}/v1/fix", "POST", ["calc.py"])[0] == 400
    assert call(f"{url}/v1/fix", "POST", {"file": "../outside.py"})[0] == 403  # traversal
    assert call(f"{url}/v1/fix", "POST", {"file": str(tmp_path / "outside.py")})[0] == 403
    assert call(f"{url}/v1/fix", "POST", {"file": "nope.py"})[0] == 404
    code, body = call(f"{url}/v1/fix", "POST", {"file": "calc.py", "model": "openai:http://example.com/v1#m"})
    assert code == 403 and "not taken from a request" in body["error"]
    assert call(f"{url}/v1/fix", "POST", {"file": "calc.py", "record": "/tmp/x.jsonl"})[0] == 403
    assert call(f"{url}/v1/fix", "POST", {"file": "calc.py", "sandbox": "local"})[0] == 403
    code, body = call(f"{url}/v1/fix", "POST", {"file": "calc.py", "samples": "three"})
    assert code == 400 and "samples" in body["error"]
    assert call(f"{url}/v1/localize", "POST", {"file": "calc.py", "apply": True})[0] == 400
    assert call(f"{url}/v1/fix", "POST", {"file": "calc.py", "pad": "x" * 70_000})[0] == 413
    assert call(f"{url}/v1/jobs/nope")[0] == 404


HANG = ("import os, time\nfrom calc import add\n\n\ndef test_hangs():\n"
        "    open(os.environ['PIDFILE'], 'w').write(str(os.getpid()))\n    time.sleep(120)\n    assert add(1, 1) == 3\n")


def test_cancel_kills_the_running_tests_and_a_full_queue_says_so(project, server, tmp_path, monkeypatch):
    root = project("calc")
    (root / "tests" / "test_hang.py").write_text(HANG)
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("PIDFILE", str(pidfile))
    url = server(root, "--model", f"fake:{fixed('calc')}", "--sandbox", "local")
    code, a = call(f"{url}/v1/fix", "POST", {"file": "calc.py", "test_timeout": 300, "timeout": 600})
    assert code == 202
    queued = [call(f"{url}/v1/fix", "POST", {"file": "calc.py"}) for _ in range(9)]
    assert [c for c, _ in queued].count(202) == 8 and queued[-1][0] == 429
    t0 = time.monotonic()
    while not pidfile.exists():
        assert time.monotonic() - t0 < 60, "the hanging test never started"
        time.sleep(0.2)
    pid = int(pidfile.read_text())
    for _, j in queued[:8]:
        assert call(f"{url}/v1/jobs/{j['id']}", "DELETE")[1]["state"] == "cancelled"  # queued: at once
    call(f"{url}/v1/jobs/{a['id']}", "DELETE")
    assert wait(f"{url}/v1/jobs/{a['id']}", timeout=30)["state"] == "cancelled"
    t0 = time.monotonic()
    while Path(f"/proc/{pid}").exists() and time.monotonic() - t0 < 10:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), "the cancelled job's test is still running"


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_the_real_default_model_fixes_through_the_server_and_stays_warm(tmp_path, server):
    import shutil
    root = tmp_path / "off_by_one"
    shutil.copytree(EXAMPLES / "off_by_one", root)
    url = server(root, own_home=False)
    ask = {"file": "textstats/windows.py", "formats": ["infill", "rewrite"], "select": 0}
    jobs = [call(f"{url}/v1/fix", "POST", ask)[1] for _ in range(2)]
    first, second = (events(f"{url}/v1/jobs/{j['id']}/events") for j in jobs)
    assert "model" in [n for n, _ in first] and "model" not in [n for n, _ in second]  # loaded once
    for j in jobs:
        job = wait(f"{url}/v1/jobs/{j['id']}", timeout=600)
        assert job["state"] == "done" and job["result"]["status"] == "fixed", job
        assert job["result"]["engine"] == "llama" and job["result"]["tokens"] > 0
