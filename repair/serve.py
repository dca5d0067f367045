"""`debugger serve`: repairs over an HTTP JSON API, one warm model shared by every job.

Jobs run one at a time in a worker thread: the model is one, and two repairs' test runs would starve each
other on a laptop's cores. What a job may decide, and what it may not:

- The model, adapter, engine, threads, sandbox and test command are the operator's: the server's flags and
  user config, read once at start (config.operator). A request that names one of them gets 403; a served
  project whose `[tool.debugger]` sets the model (or adapter, engine, threads) to anything else gets 403
  too, and the test command a project sets runs in the sandbox like its tests. So no job's settings reach
  another job.
- A request's settings are typed (`request_model`, a pydantic model; the OpenAPI schema is generated from
  it) and tune the search only, its budget within the server's ceiling (`--max-budget`); a job still running
  a minute past that ceiling is stopped.
- Only files under the served roots, and the root a file is served under is its repair's project root:
  nothing above it is copied, run or read for settings. Test files and non-Python files are refused at once.
- Every endpoint but `/v1/health` needs `Authorization: Bearer TOKEN` (a token of 16 characters or more).
  The Host header must name the address the server listens on (DNS rebinding), and requests that carry an
  Origin header (a web page's) are refused. Bodies are read up to 64 KiB, then 413; a full queue gets 429;
  finished jobs are forgotten after an hour. Cancelling a job kills its running test process groups.

What it does not protect: anyone holding the token can run the served projects' tests and, with
`"apply": true`, write verified fixes into their files; it speaks plain HTTP.
"""
from __future__ import annotations

import functools
import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MAX_BODY = 64 * 1024
MIN_TOKEN = 16
ENDS = ("done", "failed", "cancelled")
KEEP_SECONDS = 3600.0  # finished jobs are answered for an hour, then forgotten
KEEP_JOBS = 256  # and never more of them than this
GRACE = 60.0  # seconds past the ceiling before a running job is stopped


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Cancelled(Exception):
    """Raised into the pipeline through its event callback once the job is cancelled."""


@functools.lru_cache(maxsize=1)
def request_model():
    """The body of POST /v1/fix and /v1/localize as a pydantic model, built from FixConfig's fields, types and
    bounds (config.BOUNDS, config.CHOICES): strict types, no unknown keys, finite numbers."""
    import dataclasses
    from typing import Annotated, Literal, Optional

    from pydantic import ConfigDict, Field, create_model

    from .config import BOUNDS, CHOICES, REQUEST_KEYS, FixConfig, _kind
    fields: dict = {
        "file": (Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[^\x00]*$",
                                      description="a Python file under a served root")], ...),
        "apply": (bool, Field(False, description="fix only: write the verified fix into the file")),
    }
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(FixConfig)}
    for name in REQUEST_KEYS:
        kind = _kind(name)
        if name in CHOICES and kind is not list:
            t = Literal[CHOICES[name]]
        elif kind is list:
            t = list[Literal[CHOICES[name]]]
        elif kind is dict:
            t = dict[str, float]
        else:
            t = kind
        lo, hi = BOUNDS.get(name, (None, None))
        fields[name] = (Optional[t], Field(None, ge=lo, le=hi, description=f"unset: the project's setting, else "
                                                                           f"{defaults[name]!r}"))
    return create_model("Request", __config__=ConfigDict(extra="forbid", strict=True, allow_inf_nan=False), **fields)


def _invalid(error) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


@dataclass
class Job:
    id: str
    kind: str  # fix | localize
    file: str
    root: str = ""  # the served root the file is under: the repair's project root
    apply: bool = False
    state: str = "queued"  # queued | running | done | failed | cancelled
    result: dict | None = None
    error: str | None = None
    events: list[dict] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    cfg: object = None
    ended: float | None = None  # time.monotonic() when it reached an end state
    over: bool = False  # stopped at the server's ceiling

    def view(self) -> dict:
        return {"id": self.id, "kind": self.kind, "file": self.file, "state": self.state, "result": self.result,
                "error": self.error}


class Service:
    """The jobs and the warm models, independent of HTTP (the app below is a thin layer over it)."""

    def __init__(self, roots: list[Path], flags: dict, token: str, max_queue: int = 8, max_budget: float = 600.0,
                 keep: float = KEEP_SECONDS):
        from .config import operator
        from .pipeline import Models
        self.roots = [Path(r).resolve() for r in roots]
        self.flags = flags  # the server's own settings, from its command line: trusted
        self.cfg = operator(flags)  # what every job's model, adapter, engine, threads, sandbox are
        self.token = token
        self.max_queue = max_queue
        self.max_budget = max_budget
        self.keep = keep
        self.jobs: dict[str, Job] = {}
        self.pending: queue.Queue[Job] = queue.Queue()
        self.models = Models(cfg=self.cfg)  # loaded from the operator's settings, whichever job comes first
        self.lock = threading.Lock()
        threading.Thread(target=self._work, daemon=True, name="debugger-jobs").start()

    def authorized(self, header: str | None) -> bool:
        scheme, _, credentials = (header or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def _locate(self, file: str) -> tuple[Path, Path]:
        """(the file, the served root it is under: the deepest one), or Refused."""
        try:
            p = Path(file).expanduser()
            p = (p if p.is_absolute() else self.roots[0] / p).resolve()
        except (OSError, ValueError, RuntimeError) as e:
            raise Refused(400, f"{file!r}: not a usable path ({e})") from None
        under = [r for r in self.roots if p.is_relative_to(r)]
        if not under:
            raise Refused(403, f"{file}: outside the served roots ({', '.join(map(str, self.roots))})")
        if not p.is_file():
            raise Refused(404, f"{file}: no such file")
        return p, max(under, key=lambda r: len(r.parts))

    def submit(self, kind: str, body) -> Job:
        from pydantic import ValidationError

        from .config import MODEL_KEYS, REQUEST_KEYS, SETTINGS, USER_ONLY_WHY, TrustError, resolve
        from .source import InputError, load
        from .writer import check_target
        if not isinstance(body, dict):
            raise Refused(400, 'the body must be a JSON object with "file": a path')
        for key in body:
            if key not in REQUEST_KEYS and key not in ("file", "apply") and key.replace("-", "_") in SETTINGS:
                why = ("the server's model is its operator's, fixed at start" if key in MODEL_KEYS else
                       "a request does not choose the command the server runs" if key == "test" else
                       USER_ONLY_WHY.get(key, "the server's operator sets it, for every job"))
                raise Refused(403, f"request: {key} is not taken from a request ({why}); the server's own flags "
                                   "and config decide it")
        try:
            req = request_model().model_validate(body)
        except ValidationError as e:
            raise Refused(400, _invalid(e)) from None
        if req.apply and kind != "fix":
            raise Refused(400, '"apply" is only for /v1/fix')
        if req.budget is not None and req.budget > self.max_budget:
            raise Refused(400, f"budget must be at most {self.max_budget:g} s on this server (its --max-budget)")
        path, root = self._locate(req.file)
        settings = req.model_dump(exclude={"file", "apply"}, exclude_none=True)
        try:
            check_target(load(path, root), req.apply)
            cfg = resolve(root, self.flags, None, request=settings, pinned=self.cfg)
        except TrustError as e:
            raise Refused(403, str(e)) from None
        except InputError as e:
            raise Refused(400, str(e)) from None
        for name in ("budget", "timeout", "test_timeout", "select"):  # a project's values too: within the ceiling
            setattr(cfg, name, min(getattr(cfg, name), self.max_budget))
        with self.lock:
            self._forget_old()
            if sum(j.state == "queued" for j in self.jobs.values()) >= self.max_queue:
                raise Refused(429, f"{self.max_queue} jobs are queued already; try again later")
            job = Job(uuid.uuid4().hex[:12], kind, str(path), str(root), req.apply, cfg=cfg)
            self.jobs[job.id] = job
        self.pending.put(job)
        return job

    def job(self, job_id: str) -> Job:
        with self.lock:
            self._forget_old()
            job = self.jobs.get(job_id)
        if job is None:
            raise Refused(404, f"no such job (finished jobs are kept for {self.keep / 60:g} minutes)")
        return job

    def _forget_old(self) -> None:
        now = time.monotonic()
        ended = sorted((j for j in self.jobs.values() if j.ended is not None), key=lambda j: j.ended)
        for n, j in enumerate(ended):
            if now - j.ended > self.keep or len(ended) - n > KEEP_JOBS:
                del self.jobs[j.id]

    def cancel(self, job: Job) -> None:
        job.cancel.set()
        if job.state == "queued":
            self._end(job, "cancelled")

    def _event(self, job: Job, name: str, data: dict) -> None:
        with job.changed:
            job.events.append({"event": name, "data": data, "time": round(time.time(), 3)})
            job.changed.notify_all()

    def _end(self, job: Job, state: str) -> None:
        job.state = state
        job.ended = time.monotonic()
        self._event(job, "end", {"state": state, "error": job.error})

    def _work(self) -> None:
        from .sandbox import cancellable
        from .source import InputError
        while True:
            job = self.pending.get()
            if job.cancel.is_set():
                continue
            job.state = "running"
            self._event(job, "state", {"state": "running"})

            def stop(job=job):
                job.over = True
                job.cancel.set()
            watchdog = threading.Timer(self.max_budget + GRACE, stop)
            watchdog.daemon = True
            watchdog.start()
            try:
                with cancellable(job.cancel):
                    job.result = self._run(job)
                state = "cancelled" if job.cancel.is_set() else "done"
            except Cancelled:
                state = "cancelled"
            except InputError as e:
                job.error, state = str(e), "failed"
            except Exception as e:  # noqa: BLE001 - a job's crash is its result, never the server's
                job.error, state = f"{type(e).__name__}: {e}", "failed"
            finally:
                watchdog.cancel()
            if job.over:
                job.result, state = None, "failed"
                job.error = (f"stopped: ran {self.max_budget + GRACE:g} s, past this server's ceiling of "
                             f"{self.max_budget:g} s a job (--max-budget)")
            elif job.cancel.is_set():  # whatever the killed tests made the pipeline say
                job.error, state = None, "cancelled"
            self._end(job, state)

    def _run(self, job: Job) -> dict:
        def on_event(event):
            if job.cancel.is_set():
                raise Cancelled()
            self._event(job, event.name, event.to_json())
        if job.kind == "fix":
            from .pipeline import fix
            return fix(job.file, job.cfg, root=job.root, apply=job.apply, models=self.models,
                       on_event=on_event).to_json()
        return localize_job(job.file, job.cfg, on_event, root=job.root, models=self.models)


def localize_job(file: str, cfg, on_event, root: str | None = None, models=None) -> dict:
    """The ranked spans, exactly as `debugger localize --json` gives them (the same stages; no model read)."""
    from .pipeline import context, localization_json, ranking
    ctx = context(file, cfg, root=root, models=models, on_event=on_event, model=False)
    return localization_json(ctx.src, *ranking(ctx))


@functools.lru_cache(maxsize=1)
def openapi() -> dict:
    """The OpenAPI description, its request schema generated from `request_model`."""
    from typing import Literal, Optional

    from pydantic import BaseModel

    class Job(BaseModel):
        id: str
        kind: Literal["fix", "localize"]
        file: str
        state: Literal["queued", "running", "done", "failed", "cancelled"]
        result: Optional[dict] = None  # as `debugger fix --json` prints it
        error: Optional[str] = None

    schemas = {"Request": request_model().model_json_schema(ref_template="#/components/schemas/{model}"),
               "Job": Job.model_json_schema(ref_template="#/components/schemas/{model}")}
    for s in list(schemas.values()):
        schemas.update(s.pop("$defs", {}))
    body = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Request"}}}}
    queued = {"202": {"description": "queued: {id, state}"}, "400": {"description": "bad input"},
              "401": {"description": "no token"}, "403": {"description": "outside the roots, or a setting only the "
                                                                          "server's operator sets"},
              "404": {"description": "no such file"}, "413": {"description": "body over 64 KiB"},
              "429": {"description": "queue full"}}
    job = {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
           "404": {"description": "no such job, or finished over an hour ago"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "debugger", "version": "1", "description": "Test-verified repairs of Python files."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
        "security": [{"bearer": []}],
        "paths": {
            "/v1/health": {"get": {"security": [], "responses": {"200": {"description": "ok; with the token, "
                                                                                        "also the model and engine"}}}},
            "/v1/fix": {"post": {"requestBody": body, "responses": queued}},
            "/v1/localize": {"post": {"requestBody": body, "responses": queued}},
            "/v1/jobs/{id}": {"get": {"responses": job},
                              "delete": {"responses": {"200": {"description": "cancelled; its running tests are killed"}}}},
            "/v1/jobs/{id}/events": {"get": {"responses": {"200": {"description": "server-sent events, then `end`"}}}},
        },
    }


def allowed_hosts(host: str) -> set[str] | None:
    """The names a request's Host header may carry for a server listening on `host` (None: any, for a
    wildcard address); a loopback address also answers to the other loopback names."""
    from .config import loopback
    host = host.strip("[]").lower()
    if host in ("", "0.0.0.0", "::"):
        return None
    return {host} | ({"localhost", "127.0.0.1", "::1"} if loopback(host) else set())


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def app(service: Service, model: str, engine: str, hosts: set[str] | None = None):
    """The Starlette application over `service`; `hosts`: the Host names it answers (None: any)."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    class Gate:
        """Before any route: a Host this server is not listening as, or a browser's Origin, is refused."""

        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
                why = None
                if "origin" in headers:
                    why = "requests from web pages (with an Origin header) are refused"
                elif hosts is not None and _host_name(headers.get("host", "")) not in hosts:
                    why = f"Host {headers.get('host', '')!r} is not this server's address"
                if why:
                    return await error(403, why)(scope, receive, send)
            await self.inner(scope, receive, send)

    def guarded(handler):
        async def run(request: Request):
            if not service.authorized(request.headers.get("authorization")):
                return error(401, "missing or wrong token: send Authorization: Bearer TOKEN")
            try:
                return await handler(request)
            except Refused as e:
                return error(e.status, str(e))
        return run

    async def health(request: Request):
        if service.authorized(request.headers.get("authorization")):
            return JSONResponse({"status": "ok", "model": model, "engine": engine})
        return JSONResponse({"status": "ok"})

    async def describe(request: Request):
        return JSONResponse(openapi())

    def submit(kind: str):
        async def handler(request: Request):
            try:
                declared = int(request.headers.get("content-length") or 0)
            except ValueError:
                return error(400, "bad Content-Length")
            if declared > MAX_BODY:
                return error(413, f"the body is over {MAX_BODY} bytes")
            raw = bytearray()
            async for chunk in request.stream():  # read no further than the limit, whatever was declared
                raw += chunk
                if len(raw) > MAX_BODY:
                    return error(413, f"the body is over {MAX_BODY} bytes")
            try:
                body = json.loads(bytes(raw))
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                return error(400, "the body is not JSON")
            job = await asyncio.to_thread(service.submit, kind, body)
            return JSONResponse({"id": job.id, "state": job.state}, status_code=202)
        return handler

    async def get_job(request: Request):
        return JSONResponse(service.job(request.path_params["id"]).view())

    async def delete_job(request: Request):
        job = service.job(request.path_params["id"])
        service.cancel(job)
        return JSONResponse(job.view())

    async def events(request: Request):
        job = service.job(request.path_params["id"])

        async def stream():  # polls the job's list: an open stream holds no thread
            seen, quiet = 0, 0.0
            while True:
                new = job.events[seen:]
                if not new:
                    await asyncio.sleep(0.1)
                    quiet += 0.1
                    if quiet >= 15:
                        quiet = 0.0
                        yield ": keep-alive\n\n"
                    continue
                quiet = 0.0
                for e in new:
                    yield f"event: {e['event']}\ndata: {json.dumps(e['data'])}\n\n"
                seen += len(new)
                if any(e["event"] == "end" for e in new):
                    return
        return StreamingResponse(stream(), media_type="text/event-stream")

    return Gate(Starlette(routes=[
        Route("/v1/health", health), Route("/openapi.json", guarded(describe)),
        Route("/v1/fix", guarded(submit("fix")), methods=["POST"]),
        Route("/v1/localize", guarded(submit("localize")), methods=["POST"]),
        Route("/v1/jobs/{id}", guarded(get_job), methods=["GET"]),
        Route("/v1/jobs/{id}", guarded(delete_job), methods=["DELETE"]),
        Route("/v1/jobs/{id}/events", guarded(events)),
    ]))


def serve(host: str, port: int, roots: list[Path], flags: dict, token: str, announce, max_budget: float = 600.0) -> None:
    """Run the server until interrupted; `announce(url)` is called once it listens."""
    import uvicorn

    from .config import model_label
    from .engines import pick
    service = Service(roots, flags, token, max_budget=max_budget)
    cfg = service.cfg
    config = uvicorn.Config(app(service, model_label(cfg.model, cfg.adapter), pick(cfg.engine, cfg.model).name,
                                allowed_hosts(host)),
                            host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    def started():
        while not server.started:
            time.sleep(0.05)
        sock = server.servers[0].sockets[0].getsockname()
        announce(f"http://{sock[0]}:{sock[1]}")
    threading.Thread(target=started, daemon=True).start()
    server.run()
