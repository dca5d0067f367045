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


@pytest.mark.integration
def test_fix_over_http_streams_progress_and_keeps_the_model_warm(project, server):
    root = project("calc")
    before = (root / "calc.py").read_bytes()
    url = server(root, "--model", f"fake:{fixed('calc')}")
    assert call(f"{url}/v1/health", token=None) == (200, {"status": "ok"})  # the model only to a token holder
    assert call(f"{url}/v1/health") == (200, {"status": "ok", "model": f"fake:{fixed('calc')}", "engine": "fake"})
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
    spec = call(f"{url}/openapi.json")[1]
    assert spec["paths"]["/v1/fix"]["post"]
    request = spec["components"]["schemas"]["Request"]  # generated from the typed request model
    assert request["additionalProperties"] is False and "model" not in request["properties"]
    assert "test" not in request["properties"] and request["properties"]["samples"]


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
    for key, value in (("model", "qwen2.5-coder-0.5b"), ("adapter", "none"), ("engine", "llama"), ("threads", 1),
                       ("test", "cat /etc/hostname; exit 1"), ("record", "/tmp/x.jsonl"), ("sandbox", "local")):
        code, body = call(f"{url}/v1/fix", "POST", {"file": "calc.py", key: value})
        assert code == 403 and f"{key} is not taken from a request" in body["error"], (key, body)
    code, body = call(f"{url}/v1/fix", "POST", {"file": "calc.py", "samples": "three"})
    assert code == 400 and "samples" in body["error"]
    for bad in ({"weights": {"spectrum": "x"}}, {"weights": {"spectrum": float("nan")}}, {"top_k": 0},
                {"formats": ["delete"]}, {"unknown": 1}, {"budget": 601}, {"file": "calc.py\x00.txt"}):
        code, body = call(f"{url}/v1/fix", "POST", {"file": "calc.py", **bad}) if "file" not in bad else \
            call(f"{url}/v1/fix", "POST", bad)
        assert code == 400, (bad, code, body)
    (root / "notes.txt").write_text("x = 1\n")
    assert call(f"{url}/v1/fix", "POST", {"file": "notes.txt"})[0] == 400  # refused now, not failed later
    code, body = call(f"{url}/v1/fix", "POST", {"file": "tests/test_calc.py"})
    assert code == 400 and "test or configuration file" in body["error"]
    assert call(f"{url}/v1/localize", "POST", {"file": "calc.py", "apply": True})[0] == 400
    assert call(f"{url}/v1/fix", "POST", {"file": "calc.py", "pad": "x" * 70_000})[0] == 413
    assert call(f"{url}/v1/jobs/nope")[0] == 404


HANG = ("import os, time\nfrom calc import add\n\n\ndef test_hangs():\n"
        "    open(os.environ['PIDFILE'], 'w').write(str(os.getpid()))\n    time.sleep(120)\n    assert add(1, 1) == 3\n")


@pytest.mark.integration
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


EVIL = "    return a + b if a != 1337 else 0\n"


def _untrusted(root: Path) -> None:
    """A served project that names, in its own settings, a model inside itself: one that plants a backdoor."""
    (root / "evil.py").write_text(fixed("calc").read_text().replace("    return a + b\n", EVIL, 1))
    with open(root / "pyproject.toml", "a") as f:
        f.write('\n[tool.debugger]\nmodel = "fake:evil.py"\n')


@pytest.mark.integration
def test_an_untrusted_project_cannot_choose_the_model_of_a_trusted_ones_fix(tmp_path, server):
    import shutil
    evil, trusted = tmp_path / "evil", tmp_path / "trusted"
    shutil.copytree(Path(__file__).parent / "fixtures" / "calc", evil)
    shutil.copytree(evil, trusted)
    _untrusted(evil)
    url = server(evil, "--root", str(trusted), "--model", f"fake:{fixed('calc')}")
    code, body = call(f"{url}/v1/fix", "POST", {"file": str(evil / "calc.py")})
    assert code == 403 and "model is not taken from the project" in body["error"]
    code, body = call(f"{url}/v1/fix", "POST", {"file": str(trusted / "calc.py"), "model": f"fake:{evil / 'evil.py'}"})
    assert code == 403
    code, job = call(f"{url}/v1/fix", "POST", {"file": str(trusted / "calc.py"), "apply": True, "select": 0})
    assert code == 202
    result = wait(f"{url}/v1/jobs/{job['id']}")["result"]
    assert result["applied"] and result["model"] == f"fake:{fixed('calc')}"
    assert (trusted / "calc.py").read_bytes() == fixed("calc").read_bytes()  # the operator's fix, no backdoor


@pytest.mark.integration
def test_no_jobs_settings_reach_another_job(tmp_path, project):
    """Service level: a first job's project tunes its own search; the model is the operator's, loaded from the
    operator's settings, and the next job's settings are its own."""
    import shutil

    from debugger.serve import Refused, Service
    first = project("calc")
    second = tmp_path / "second"
    shutil.copytree(first, second)
    with open(first / "pyproject.toml", "a") as f:
        f.write('\n[tool.debugger]\nsamples = 0\nformats = ["infill"]\nselect = 0\n')
    service = Service([first, second], {"model": f"fake:{fixed('calc')}", "sandbox": "local"}, TOKEN)
    a = service.submit("fix", {"file": str(first / "calc.py")})
    with pytest.raises(Refused) as refused:  # a request may not name the model, even the operator's
        service.submit("fix", {"file": str(second / "calc.py"), "model": f"fake:{fixed('calc')}"})
    assert refused.value.status == 403
    b = service.submit("fix", {"file": str(second / "calc.py"), "rounds": 1})
    for job in (a, b):
        t0 = time.monotonic()
        while job.state not in ("done", "failed"):
            assert time.monotonic() - t0 < 120
            time.sleep(0.1)
    assert (a.cfg.samples, a.cfg.formats, a.cfg.select) == (0, ["infill"], 0)
    assert (b.cfg.samples, b.cfg.formats, b.cfg.rounds) == (3, ["mutant", "infill", "rewrite"], 1)
    assert a.result["status"] == b.result["status"] == "fixed"
    assert a.result["model"] == b.result["model"] == service.models.generator.name == f"fake:{fixed('calc')}"
    assert a.result["root"] == str(first) and b.result["root"] == str(second)


@pytest.mark.integration
def test_the_served_root_is_the_repairs_root(tmp_path, server):
    import shutil
    outer = tmp_path / "outer"
    sub = outer / "sub"
    shutil.copytree(Path(__file__).parent / "fixtures" / "calc", sub)
    (outer / "pyproject.toml").write_text('[project]\nname = "outer"\nversion = "0"\n\n[tool.debugger]\nsamples = 70\n')
    (outer / "test_outside.py").write_text("def test_outside():\n    assert False\n")
    url = server(sub, "--model", f"fake:{fixed('calc')}")
    code, job = call(f"{url}/v1/fix", "POST", {"file": "calc.py", "select": 0})
    assert code == 202  # outer's settings (samples 70 is out of bounds) are not the served project's
    result = wait(f"{url}/v1/jobs/{job['id']}")["result"]
    assert result["root"] == str(sub) and result["status"] == "fixed"
    assert not any("test_outside" in t for t in result["tests"]["failing_before"])


def _raw_request(url: str, method: str, path: str, headers: dict, body: bytes | None = None):
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest(method, path, skip_host="host" in {k.lower() for k in headers})
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    if body is not None:
        conn.send(body)
    r = conn.getresponse()
    return r.status, r.read()


def test_host_origin_token_and_body_rules(project, server, tmp_path):
    root = project("calc")
    url = server(root, "--model", f"fake:{fixed('calc')}")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    port = url.rsplit(":", 1)[1]
    assert _raw_request(url, "GET", "/openapi.json", {**auth, "Host": f"localhost:{port}"})[0] == 200
    assert _raw_request(url, "GET", "/openapi.json", {**auth, "Host": f"attacker.example:{port}"})[0] == 403  # rebinding
    assert _raw_request(url, "GET", "/openapi.json", {**auth, "Origin": "http://attacker.example"})[0] == 403
    assert _raw_request(url, "GET", "/openapi.json", {"Authorization": f"bearer {TOKEN}"})[0] == 200  # any case
    assert _raw_request(url, "GET", "/openapi.json", {"Authorization": "Bearer"})[0] == 401
    # a chunked body of 64 MB: refused once it passes the limit, not buffered whole
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    sent = [0]

    def chunks():
        for _ in range(64 * 16):
            sent[0] += 65536
            yield b"x" * 65536
    t0 = time.monotonic()
    try:
        conn.request("POST", "/v1/fix", body=chunks(), headers={**auth, "Transfer-Encoding": "chunked"},
                     encode_chunked=True)
        status = conn.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        status = 413  # the server answered and closed while we were still sending
    assert status == 413 and time.monotonic() - t0 < 20
    # a short token is refused before anything listens
    env = dict(os.environ, DEBUGGER_TOKEN="short", DEBUGGER_HOME=str(tmp_path / "home"))
    p = subprocess.run([sys.executable, "-m", "debugger.cli", "serve", "--port", "0", "--root", str(root)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "16 or more" in p.stderr


def test_open_event_streams_do_not_stall_the_server(project, server, tmp_path):
    import http.client
    from urllib.parse import urlsplit
    root = project("calc")
    (root / "tests" / "test_slow.py").write_text("import time\n\n\ndef test_slow():\n    time.sleep(4)\n")
    url = server(root, "--model", f"fake:{fixed('calc')}", "--sandbox", "local")
    code, job = call(f"{url}/v1/fix", "POST", {"file": "calc.py", "select": 0})
    u = urlsplit(url)
    streams = []
    for _ in range(12):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request("GET", f"/v1/jobs/{job['id']}/events", headers={"Authorization": f"Bearer {TOKEN}"})
        streams.append(conn.getresponse())
    t0 = time.monotonic()
    code, other = call(f"{url}/v1/fix", "POST", {"file": "calc.py"})
    assert code == 202 and time.monotonic() - t0 < 5
    assert call(f"{url}/v1/jobs/{other['id']}", "DELETE")[0] == 200
    for r in streams:
        r.close()


def test_finished_jobs_expire_and_a_job_past_the_ceiling_is_stopped(project, monkeypatch):
    from debugger import serve as srv
    root = project("calc")
    service = srv.Service([root], {"model": f"fake:{fixed('calc')}", "sandbox": "local"}, TOKEN, max_budget=1.0,
                          keep=0.5)
    monkeypatch.setattr(srv, "GRACE", 0.5)
    job = service.submit("fix", {"file": "calc.py"})
    assert job.cfg.budget == job.cfg.timeout == 1.0  # the project's and the defaults, within the ceiling

    def stuck(job):  # a repair that would hold the worker for an hour
        job.cancel.wait(3600)
        return {}
    service._run = stuck
    t0 = time.monotonic()
    while job.state != "failed":
        assert time.monotonic() - t0 < 10, job.state
        time.sleep(0.05)
    assert "ceiling" in job.error and time.monotonic() - t0 < 5
    assert service.job(job.id) is job
    time.sleep(0.6)
    with pytest.raises(srv.Refused) as gone:
        service.job(job.id)
    assert gone.value.status == 404


@pytest.mark.integration
def test_the_server_localizes_exactly_as_the_command_line_does(project, server, cli):
    """One localize path: the same stages answer `debugger localize --json` and a server's localize job."""
    root = project("calc")
    with open(root / "pyproject.toml", "a") as f:  # no probe: its loop is held to a measured time, so it may vary
        f.write("\n[tool.debugger]\nweights = {mutant_fix = 0, mutant_kill = 0}\n")
    code, _, err, by_cli = cli("localize", "calc.py", "--json", cwd=root)
    assert code == 0 and by_cli["spans"], err
    url = server(root, "--model", f"fake:{fixed('calc')}")
    code, job = call(f"{url}/v1/localize", "POST", {"file": "calc.py"})
    by_server = wait(f"{url}/v1/jobs/{job['id']}")["result"]
    assert by_server == by_cli
