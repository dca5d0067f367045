"""`debugger serve`: repairs over an HTTP JSON API, one warm model shared by every job.

Jobs run one at a time in a worker thread: the model is one, and two repairs' test runs would starve each
other on a laptop's cores. Every endpoint but `/v1/health` needs `Authorization: Bearer TOKEN`. Only files
under the served roots are accepted (403 otherwise, symlinks resolved), and a request's settings obey the
rules a project's `[tool.debugger]` does (config.resolve's untrusted layer): they tune the search, never
choose the model, an endpoint, a file to write or the sandbox (403). Bodies over 64 KiB get 413, a full
queue 429. Cancelling a job kills its running test process groups and stops it at its next event.

What it does not protect: anyone holding the token can run the served projects' tests and, with
`"apply": true`, write verified fixes into their files; it listens on loopback unless told otherwise, and
speaks plain HTTP.
"""
from __future__ import annotations

import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MAX_BODY = 64 * 1024
ENDS = ("done", "failed", "cancelled")


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Cancelled(Exception):
    """Raised into the pipeline through its event callback once the job is cancelled."""


@dataclass
class Job:
    id: str
    kind: str  # fix | localize
    file: str
    apply: bool = False
    state: str = "queued"  # queued | running | done | failed | cancelled
    result: dict | None = None
    error: str | None = None
    events: list[dict] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    cfg: object = None

    def view(self) -> dict:
        return {"id": self.id, "kind": self.kind, "file": self.file, "state": self.state, "result": self.result,
                "error": self.error}


class Service:
    """The jobs and the warm models, independent of HTTP (the app below is a thin layer over it)."""

    def __init__(self, roots: list[Path], flags: dict, token: str, max_queue: int = 8):
        from .pipeline import Models
        self.roots = [Path(r).resolve() for r in roots]
        self.flags = flags  # the server's own settings, from its command line: trusted
        self.token = token
        self.max_queue = max_queue
        self.jobs: dict[str, Job] = {}
        self.pending: queue.Queue[Job] = queue.Queue()
        self.models = Models()  # one model for the server: requests cannot choose another
        self.loaded: dict = {}
        threading.Thread(target=self._work, daemon=True, name="debugger-jobs").start()

    def authorized(self, header: str | None) -> bool:
        return bool(header) and hmac.compare_digest(header.encode(), f"Bearer {self.token}".encode())

    def _inside(self, file: str) -> Path:
        p = Path(file).expanduser()
        p = (p if p.is_absolute() else self.roots[0] / p).resolve()
        if not any(p.is_relative_to(r) for r in self.roots):
            raise Refused(403, f"{file}: outside the served roots ({', '.join(map(str, self.roots))})")
        if not p.is_file():
            raise Refused(404, f"{file}: no such file")
        return p

    def submit(self, kind: str, body: dict) -> Job:
        from .config import TrustError, resolve
        from .source import InputError, find_root
        if not isinstance(body, dict) or not isinstance(body.get("file"), str):
            raise Refused(400, 'the body must be a JSON object with "file": a path')
        apply = body.get("apply", False)
        if not isinstance(apply, bool) or (apply and kind != "fix"):
            raise Refused(400, '"apply" must be true or false, and only for /v1/fix')
        path = self._inside(body["file"])
        settings = {k: v for k, v in body.items() if k not in ("file", "apply")}
        try:
            cfg = resolve(find_root(path), self.flags, None, request=settings)
        except TrustError as e:
            raise Refused(403, str(e)) from None
        except InputError as e:
            raise Refused(400, str(e)) from None
        if sum(j.state == "queued" for j in self.jobs.values()) >= self.max_queue:
            raise Refused(429, f"{self.max_queue} jobs are queued already; try again later")
        job = Job(uuid.uuid4().hex[:12], kind, str(path), apply, cfg=cfg)
        self.jobs[job.id] = job
        self.pending.put(job)
        return job

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
            if job.cancel.is_set():  # whatever the killed tests made the pipeline say
                job.error, state = None, "cancelled"
            self._end(job, state)

    def _run(self, job: Job) -> dict:
        from .events import to_json

        def on_event(name, payload):
            if job.cancel.is_set():
                raise Cancelled()
            self._event(job, name, to_json(name, payload))
        if job.kind == "fix":
            from .pipeline import fix
            return fix(job.file, job.cfg, apply=job.apply, models=self.models, on_event=on_event).to_json()
        return localize_job(job.file, job.cfg, on_event)


def localize_job(file: str, cfg, on_event) -> dict:
    """The ranked spans, as `debugger localize --json` gives them (no model read: surprisal is off here)."""
    from .locate import locate
    from .pipeline import _baseline, mutation_probe
    from .source import load
    from .testrun import default_command
    src = load(file)
    command = cfg.test or default_command()
    on_event("baseline_start", command)
    report = _baseline(src, command, cfg)
    on_event("baseline", report)
    spans = []
    if report.failing:
        loc, _ = locate(src, report, None, overrides=cfg.weights, top_k=cfg.top_k, surprisal=False, infill=False,
                        mutate=mutation_probe(src, report, command, cfg, on_event))
        on_event("localized", loc)
        spans = [{"start_line": s.start_line, "end_line": s.end_line, "score": round(s.score, 3), "reason": s.reason,
                  "kind": s.kind} for s in loc.spans]
    return {"file": str(src.path), "failing": report.failing, "spans": spans}


_BODY = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Request"}}}}
_QUEUED = {"202": {"description": "queued: {id, state}"}, "400": {"description": "bad input"},
           "401": {"description": "no token"}, "403": {"description": "outside the roots, or a user-only setting"},
           "404": {"description": "no such file"}, "413": {"description": "body too large"},
           "429": {"description": "queue full"}}
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "debugger", "version": "1", "description": "Test-verified repairs of Python files."},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                   "schemas": {"Job": {"type": "object", "properties": {
                       "id": {"type": "string"}, "kind": {"enum": ["fix", "localize"]}, "file": {"type": "string"},
                       "state": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
                       "result": {"type": ["object", "null"], "description": "as `debugger fix --json` prints it"},
                       "error": {"type": ["string", "null"]}}},
                       "Request": {"type": "object", "required": ["file"], "properties": {
                           "file": {"type": "string", "description": "under a served root"},
                           "apply": {"type": "boolean", "description": "fix only: write the verified fix"},
                           "test": {"type": "string"}, "samples": {"type": "integer"}, "budget": {"type": "number"}},
                           "additionalProperties": {"description": "any search setting a project may set"}}}},
    "security": [{"bearer": []}],
    "paths": {
        "/v1/health": {"get": {"security": [], "responses": {"200": {"description": "model and engine"}}}},
        "/v1/fix": {"post": {"requestBody": _BODY, "responses": _QUEUED}},
        "/v1/localize": {"post": {"requestBody": _BODY, "responses": _QUEUED}},
        "/v1/jobs/{id}": {
            "get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}}},
            "delete": {"responses": {"200": {"description": "cancelled; its running tests are killed"}}}},
        "/v1/jobs/{id}/events": {"get": {"responses": {"200": {"description": "server-sent events, then `end`"}}}},
    },
}


def app(service: Service, model: str, engine: str):
    """The Starlette application over `service`."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

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
        return JSONResponse({"status": "ok", "model": model, "engine": engine})

    async def openapi(request: Request):
        return JSONResponse(OPENAPI)

    def submit(kind: str):
        async def handler(request: Request):
            size = int(request.headers.get("content-length") or 0)
            if size > MAX_BODY:
                return error(413, f"the body is over {MAX_BODY} bytes")
            raw = await request.body()
            if len(raw) > MAX_BODY:
                return error(413, f"the body is over {MAX_BODY} bytes")
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return error(400, "the body is not JSON")
            job = await asyncio.to_thread(service.submit, kind, body)
            return JSONResponse({"id": job.id, "state": job.state}, status_code=202)
        return handler

    def job_of(request: Request) -> Job:
        job = service.jobs.get(request.path_params["id"])
        if job is None:
            raise Refused(404, "no such job")
        return job

    async def get_job(request: Request):
        return JSONResponse(job_of(request).view())

    async def delete_job(request: Request):
        job = job_of(request)
        service.cancel(job)
        return JSONResponse(job.view())

    async def events(request: Request):
        job = job_of(request)

        def wait(seen: int) -> list[dict]:
            with job.changed:
                job.changed.wait_for(lambda: len(job.events) > seen, timeout=15)
                return job.events[seen:]

        async def stream():
            seen = 0
            while True:
                new = await asyncio.to_thread(wait, seen)
                if not new:
                    yield ": keep-alive\n\n"
                for e in new:
                    yield f"event: {e['event']}\ndata: {json.dumps(e['data'])}\n\n"
                seen += len(new)
                if any(e["event"] == "end" for e in new):
                    return
        return StreamingResponse(stream(), media_type="text/event-stream")

    return Starlette(routes=[
        Route("/v1/health", health), Route("/openapi.json", guarded(openapi)),
        Route("/v1/fix", guarded(submit("fix")), methods=["POST"]),
        Route("/v1/localize", guarded(submit("localize")), methods=["POST"]),
        Route("/v1/jobs/{id}", guarded(get_job), methods=["GET"]),
        Route("/v1/jobs/{id}", guarded(delete_job), methods=["DELETE"]),
        Route("/v1/jobs/{id}/events", guarded(events)),
    ])


def serve(host: str, port: int, roots: list[Path], flags: dict, token: str, announce) -> None:
    """Run the server until interrupted; `announce(url)` is called once it listens."""
    import uvicorn

    from .config import model_label, resolve
    from .models import pick_engine
    cfg = resolve(roots[0], flags)
    service = Service(roots, flags, token)
    config = uvicorn.Config(app(service, model_label(cfg.model, cfg.adapter), pick_engine(cfg.engine, cfg.model)),
                            host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    def started():
        while not server.started:
            time.sleep(0.05)
        sock = server.servers[0].sockets[0].getsockname()
        announce(f"http://{sock[0]}:{sock[1]}")
    threading.Thread(target=started, daemon=True).start()
    server.run()
