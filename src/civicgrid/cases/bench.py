"""API throughput on a real server: full case lifecycles against a bare authenticated endpoint.

Runs gunicorn on a throw-away copy of the demo world (PostgreSQL when DATABASE_URL points at it)
and drives it from 4 client threads over keep-alive HTTP on 127.0.0.1, as a phone app would.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from django.conf import settings

from civicgrid.benchmarking import Figures, Say, benchmark

CLIENTS = 4
# The two phases alternate in short rounds, so that a shared machine's changes of speed (±20 % within
# minutes here) fall on both alike; the ratio is the median of the rounds' ratios.
ROUNDS = 5
BARE_SECONDS = 2.0  # per round
LIFECYCLE_SECONDS = 4.0  # per round
ACTORS = ["community1", "dispatcher1", "dept_cg", "grid1", "member1"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BenchDatabase:
    """A fresh database beside the configured one, dropped afterwards."""

    def __init__(self) -> None:
        # The demo draws photos: into a folder of the bench's own, removed with the database.
        self.media = tempfile.mkdtemp(prefix="civicgrid-bench-media-")
        db = settings.DATABASES["default"]
        self.postgres = db["ENGINE"].endswith("postgresql")
        if self.postgres:
            self.name = f"{db['NAME']}_bench"
            user = f"{db['USER']}:{db['PASSWORD']}@" if db["USER"] else ""
            host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            self.url = f"postgres://{user}{host}/{self.name}"
            self._admin_url = f"postgresql://{user}{host}/postgres"
        else:
            self.name = str(Path(settings.VAR_DIR) / "bench.sqlite3")
            self.url = f"sqlite:///{self.name}"
            self._admin_url = ""

    def _run_admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> None:
        if self.postgres:
            self._run_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._run_admin(f'CREATE DATABASE "{self.name}"')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(self.name + suffix).unlink(missing_ok=True)

    def drop(self) -> None:
        shutil.rmtree(self.media, ignore_errors=True)
        if self.postgres:
            self._run_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(self.name + suffix).unlink(missing_ok=True)


def _env(db: BenchDatabase) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db.url,
        CIVICGRID_MEDIA_ROOT=db.media,
        CIVICGRID_NOTIFY_ON_COMMIT="enqueue",
        CIVICGRID_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="civicgrid.settings",
    )
    return env


def _civicgrid(env: dict[str, str], *args: str) -> str:
    exe = [sys.executable, "-m", "civicgrid.cli", *args]
    done = subprocess.run(exe, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"civicgrid {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


_SETUP = """
import json
from civicgrid.cases.models import Category
from civicgrid.people.actions import create_token
from civicgrid.people.models import User
tokens = {u.username: create_token(u, name="bench")[1] for u in User.objects.filter(username__in=%r)}
category = Category.objects.filter(parent__isnull=False, arrival_required=False,
                                   default_lead_unit__name__contains="城市管理局").order_by("code").first()
from civicgrid.core.models import Unit
grid = Unit.objects.get(memberships__user__username="grid1", memberships__role="grid_worker")
import json as j
ring = j.loads(grid.polygon)["coordinates"][0]
lng = sum(p[0] for p in ring[:-1]) / (len(ring) - 1); lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
dept = Unit.objects.get(memberships__user__username="dept_cg")
from django.test import Client
sessions = {}
for user in User.objects.filter(username__in=%r):
    browser = Client()
    browser.force_login(user)
    sessions[user.username] = browser.cookies["sessionid"].value
print(json.dumps({"tokens": tokens, "sessions": sessions, "category": category.code, "lat": lat, "lng": lng,
                  "dept": dept.code}))
"""


class Client:
    def __init__(self, port: int, tokens: dict[str, str]):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.tokens = tokens

    def call(self, method: str, path: str, who: str, body: dict | None = None, key: str = "") -> dict:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} as {who}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def page(self, path: str, session: str) -> bytes:
        """A desk page as a signed-in browser asks for it."""
        self.conn.request("GET", path, headers={"Cookie": f"sessionid={session}"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {data[:300]!r}")
        return data


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (Linux /proc; 0 elsewhere)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _processes(server: subprocess.Popen) -> dict[str, list[int]]:
    """The server's workers, every PostgreSQL process on the machine, and this client."""

    def pgrep(*args: str) -> list[int]:
        found = subprocess.run(["pgrep", *args], capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in found]

    return {
        "server": [server.pid, *pgrep("-P", str(server.pid))],
        "postgres": pgrep("-x", "postgres"),
        "client": [os.getpid()],
    }


def _measured(server: subprocess.Popen, run: Callable[[], tuple[int, int, float]]) -> tuple[tuple, dict]:
    """Runs a phase and returns its result with the CPU seconds each kind of process spent in it."""
    processes = _processes(server)
    before = {kind: _cpu_seconds(pids) for kind, pids in processes.items()}
    result = run()
    return result, {kind: _cpu_seconds(pids) - before[kind] for kind, pids in processes.items()}


def _wait_for(port: int, tokens: dict[str, str]) -> None:
    """Until the server answers (each try on a fresh connection: a refused one cannot be reused)."""
    for _ in range(150):
        try:
            Client(port, tokens).call("GET", "/api/v1/me", "community1")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _drive(port: int, tokens: dict, seconds: float, work: Callable[[Client], int]) -> tuple[int, int, float]:
    """Runs `work` in CLIENTS threads until time is up; returns (units of work, calls, seconds)."""
    stop = time.perf_counter() + seconds
    totals = {"units": 0, "calls": 0}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def loop() -> None:
        client = Client(port, tokens)
        units = calls = 0
        try:
            while time.perf_counter() < stop:
                calls += work(client)
                units += 1
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        with lock:
            totals["units"] += units
            totals["calls"] += calls

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]}")
    return totals["units"], totals["calls"], elapsed


Call = Callable[..., dict]  # (method, path, who, body=None, key="") -> the reply


def run_lifecycle(call: Call, setup: dict) -> int:
    """One case from filing to rating through the API as `call` makes requests; returns the calls made."""
    case = call(
        "POST",
        "/api/v1/cases",
        "community1",
        {
            "description": "小区门口路灯不亮，晚上出行不便（压测）",
            "title": "路灯不亮",
            "category": setup["category"],
            "lat": setup["lat"],
            "lng": setup["lng"],
            "channel": "resident",
        },
        key=uuid.uuid4().hex,
    )
    path = f"/api/v1/cases/{case['number']}/actions/"
    call("POST", path + "register", "community1", {})
    call("POST", path + "dispatch", "dispatcher1", {"lead_unit": setup["dept"], "assisting_units": []})
    call("POST", path + "sign", "dept_cg", {})
    call("POST", path + "feedback", "dept_cg", {"result": "已更换灯泡，恢复照明"})
    closed = call("POST", path + "recheck", "grid1", {"passed": True, "note": "现场核查已亮"})
    if closed["status"] != "closed":
        raise RuntimeError(f"expected closed, got {closed['status']}")
    call(
        "POST",
        path + "rate",
        "community1",
        {"satisfaction": "satisfied", "resolved": True, "comment": "电话回访满意"},
    )
    return 7


@benchmark("api-lifecycle")
def api_lifecycle(say: Say) -> Figures:
    """Full case lifecycles per second through the HTTP API vs. a bare authenticated endpoint."""
    db = BenchDatabase()
    db.create()
    env = _env(db)
    server = None
    try:
        _civicgrid(env, "demo", "--no-serve")
        setup = json.loads(_civicgrid(env, "shell", "-c", _SETUP % (ACTORS, ACTORS)).strip().splitlines()[-1])
        tokens = setup["tokens"]
        port = _free_port()
        workers = str(max(2, (os.cpu_count() or 2) + 1))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "civicgrid.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                workers,
                "-k",
                "gthread",
                "--threads",
                "2",
                "--log-level",
                "warning",
            ],
            env=env,
        )
        _wait_for(port, tokens)
        say(
            f"gunicorn: {workers} workers × 2 threads on 127.0.0.1:{port}; {CLIENTS} client threads; "
            f"database {'PostgreSQL' if db.postgres else 'SQLite'}"
        )

        def bare(client: Client) -> int:
            client.call("GET", "/api/v1/me", "dept_cg")
            return 1

        def lifecycle(client: Client) -> int:
            return run_lifecycle(client.call, setup)

        _drive(port, tokens, 2.0, bare)  # warm up every worker
        _drive(port, tokens, 2.0, lifecycle)
        rounds = [
            (
                _measured(server, partial(_drive, port, tokens, BARE_SECONDS, bare)),
                _measured(server, partial(_drive, port, tokens, LIFECYCLE_SECONDS, lifecycle)),
            )
            for _ in range(ROUNDS)
        ]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        db.drop()
    requests = sum(b[0][0] for b, _ in rounds)
    bare_seconds = sum(b[0][2] for b, _ in rounds)
    lifecycles = sum(s[0][0] for _, s in rounds)
    steps = sum(s[0][1] for _, s in rounds)
    life_seconds = sum(s[0][2] for _, s in rounds)
    ratios = sorted((s[0][1] / s[0][2]) / (b[0][0] / b[0][2]) for b, s in rounds)
    bare_rps = requests / bare_seconds
    steps_ps = steps / life_seconds
    ratio = statistics.median(ratios)
    say(
        f"bare GET /me: {bare_rps:,.0f} requests/s; lifecycles: {lifecycles / life_seconds:,.1f}/s "
        f"({steps_ps:,.0f} steps/s, {ratio:.2f} of bare at the median of {ROUNDS} rounds, "
        f"{ratios[0]:.2f}–{ratios[-1]:.2f})"
    )
    figures: Figures = {
        "database": "postgresql" if db.postgres else "sqlite",
        "bare_requests_per_s": round(bare_rps, 1),
        "lifecycles_per_s": round(lifecycles / life_seconds, 1),
        "steps_per_s": round(steps_ps, 1),
        "steps_to_bare_ratio": round(ratio, 2),
        "steps_to_bare_ratio_range": f"{ratios[0]:.2f}–{ratios[-1]:.2f}",
        "lifecycles": lifecycles,
    }
    bare_cpu = {kind: sum(b[1][kind] for b, _ in rounds) for kind in ("server", "postgres", "client")}
    step_cpu = {kind: sum(s[1][kind] for _, s in rounds) for kind in ("server", "postgres", "client")}
    # Where the CPU goes, per request (docs/performance.md): the ratio is the ratio of these sums
    # while the phases keep the cores busy.
    for kind in ("server", "postgres", "client"):
        figures[f"bare_cpu_ms_{kind}"] = round(bare_cpu[kind] / requests * 1000, 2)
        figures[f"step_cpu_ms_{kind}"] = round(step_cpu[kind] / steps * 1000, 2)
    figures["steps_to_bare_cpu_ratio"] = cpu_ratio(bare_cpu, requests, step_cpu, steps)
    return figures


def cpu_ratio(bare_cpu: dict[str, float], requests: int, step_cpu: dict[str, float], steps: int) -> float:
    """A bare request's CPU (server, PostgreSQL and client together) over a step's: the rate ratio the
    two cores allow when both phases keep them busy. The host's speed of the hour, which moves the
    rates by a fifth between runs, moves both sides of it alike."""
    return round((sum(bare_cpu.values()) / requests) / (sum(step_cpu.values()) / steps), 3)


# --- reads at scale ---------------------------------------------------------------------------

SCALE_CASES = int(os.environ.get("CIVICGRID_BENCH_CASES", "1000000"))
SCALE_REPEATS = 25

_FILL = """
WITH grids AS (
    SELECT array_agg(g.id ORDER BY g.id) AS ids, array_agg(g.path ORDER BY g.id) AS paths,
           array_agg(g.parent_id ORDER BY g.id) AS communities, count(*) AS n
    FROM core_unit g WHERE g.kind = 'grid'
), cats AS (
    SELECT array_agg(c.id ORDER BY c.id) AS ids, array_agg(c.default_lead_unit_id ORDER BY c.id) AS leads,
           count(*) AS n
    FROM cases_category c WHERE c.parent_id IS NOT NULL AND c.default_lead_unit_id IS NOT NULL
), texts AS (
    -- 30 kinds of problem, so a search for one (路灯) matches about one case in thirty, as on a real desk.
    SELECT ARRAY['路灯不亮', '垃圾堆积', '噪音扰民', '井盖破损', '占道经营', '违章停车', '污水外溢',
                 '树木倒伏', '小广告乱贴', '违规搭建', '道路坑洼', '消防通道堵塞', '油烟污染', '楼道杂物',
                 '电梯故障', '停水', '停电', '燃气异味', '流浪犬伤人', '广场舞扰民', '施工扬尘',
                 '下水道堵塞', '共享单车乱停', '外墙脱落', '化粪池满溢', '公厕脏乱', '路面积水',
                 '无证经营', '群租房', '高空抛物'] AS kinds,
           ARRAY['小区门口', '菜市场旁', '学校附近', '居民楼下', '公交站台', '背街小巷', '广场东侧',
                 '河道沿岸'] AS places
), rows AS (
    SELECT i, random() AS r, now() - random() * interval '730 days' AS created,
           1 + floor(random() * 30)::int AS ki, 1 + floor(random() * 8)::int AS pi,
           1 + floor(random() * (SELECT n FROM grids))::int AS gi,
           1 + floor(random() * (SELECT n FROM cats))::int AS ci
    FROM generate_series(1, %(n)s) AS i
), shaped AS (
    SELECT rows.*, CASE WHEN r < 0.88 THEN 'closed' WHEN r < 0.91 THEN 'rejected' WHEN r < 0.95 THEN 'signed'
                        WHEN r < 0.97 THEN 'dispatched' WHEN r < 0.98 THEN 'received'
                        WHEN r < 0.99 THEN 'fed_back' ELSE 'deferred' END AS status
    FROM rows
)
INSERT INTO cases_case (number, channel, type, urgency, title, description, status, lat, lng, address,
    locate_method, territory_path, reporter_name_enc, reporter_phone_enc, reporter_phone_index, anonymous,
    idempotency_key, request_hash, created_at, answer_by, registered_at, first_dispatched_at, dispatched_at,
    sign_by, signed_at, yellow_at, due_at, fed_back_at, closed_at, warn_level, deferred, rework_count,
    return_count, reopen_count, extension_count, urge_count, supervise_count, reject_reason, return_reason,
    feedback_result, satisfaction, rating_comment, updated_at, category_id, community_id, grid_id,
    lead_unit_id, subdistrict_id, territory_id, followed, offered_at, claimed_by_id)
SELECT 'CB' || lpad(i::text, 8, '0'), 'resident', 'complaint', 'normal', texts.kinds[ki],
    texts.places[pi] || texts.kinds[ki] || '，已经持续好几天，影响周边居民生活，'
        || '请尽快处理（第 ' || i || ' 号）',
    status, 25.71, 104.47, texts.places[pi], 'grid',
    grids.paths[gi], '', '', '', false, '', '', created, created + interval '2 hours',
    created + interval '1 hour',
    CASE WHEN status NOT IN ('received', 'rejected') THEN created + interval '2 hours' END,
    CASE WHEN status NOT IN ('received', 'rejected') THEN created + interval '2 hours' END,
    CASE WHEN status NOT IN ('received', 'rejected') THEN created + interval '3 hours' END,
    CASE WHEN status IN ('signed', 'fed_back', 'closed', 'deferred')
         THEN created + interval '2 hours' + random() * interval '2 hours' END,
    CASE WHEN status NOT IN ('received', 'rejected') THEN created + interval '5 days' END,
    CASE WHEN status NOT IN ('received', 'rejected') THEN created + interval '7 days' END,
    CASE WHEN status IN ('fed_back', 'closed') THEN created + random() * interval '9 days' END,
    CASE WHEN status = 'closed' THEN created + interval '1 day' + random() * interval '9 days' END,
    'none', status = 'deferred', 0, 0, 0, 0, 0, 0, '', '', '', '', '', now(), cats.ids[ci],
    grids.communities[gi], grids.ids[gi],
    CASE WHEN status NOT IN ('received', 'rejected') THEN cats.leads[ci] END,
    (SELECT parent_id FROM core_unit WHERE id = grids.communities[gi]), grids.ids[gi], false,
    -- One case in a hundred was offered to the Party members of its community (群众点单), and half of
    -- those were claimed by member1 (the demo's member), whose lists are probed below.
    CASE WHEN i %% 100 = 0 THEN created + interval '1 hour' END,
    CASE WHEN i %% 200 = 0 THEN (SELECT id FROM people_user WHERE username = 'member1') END
FROM shaped, grids, cats, texts
"""

_ASSIGN = """
INSERT INTO cases_caseassignment (case_id, unit_id, unit_path, role, active, dispatched_at, signed_at)
SELECT c.id, c.lead_unit_id, u.path, 'lead', true, c.dispatched_at, c.signed_at
FROM cases_case c JOIN core_unit u ON u.id = c.lead_unit_id
WHERE c.lead_unit_id IS NOT NULL AND c.number LIKE 'CB%%'
"""


def _fill(db: BenchDatabase, n: int) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(db.url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(_FILL, {"n": n})
        conn.execute(_ASSIGN)
        # What autovacuum does to a table that has settled: statistics and the visibility map (which
        # lets the covering list indexes answer counts without visiting the table).
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _median_ms(call: Callable[[], object]) -> float:
    times = []
    for _ in range(SCALE_REPEATS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


@benchmark("cases-scale")
def cases_scale(say: Say) -> Figures:
    """Lists, inboxes and measures over 1,000,000 cases on PostgreSQL (CIVICGRID_BENCH_CASES to change)."""
    db = BenchDatabase()
    if not db.postgres:
        say("skipped: needs DATABASE_URL=postgres://…")
        return {"skipped": "needs PostgreSQL"}
    db.create()
    env = _env(db)
    server = None
    figures: Figures = {"cases": SCALE_CASES}
    try:
        _civicgrid(env, "demo", "--no-serve", "--no-history")
        setup = json.loads(_civicgrid(env, "shell", "-c", _SETUP % (ACTORS, ACTORS)).strip().splitlines()[-1])
        figures["fill_seconds"] = round(_fill(db, SCALE_CASES), 1)
        say(f"filled {SCALE_CASES:,} cases in {figures['fill_seconds']} s")
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "civicgrid.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
                "--log-level",
                "warning",
            ],
            env=env,
        )
        _wait_for(port, setup["tokens"])
        client = Client(port, setup["tokens"])
        probes = {
            "dispatcher_signed_ms": ("dispatcher1", "/api/v1/cases?status=signed&page_size=20"),
            "dispatcher_overdue_ms": ("dispatcher1", "/api/v1/cases?overdue=true&page_size=20"),
            "dispatcher_category_ms": (
                "dispatcher1",
                f"/api/v1/cases?category={setup['category']}&page_size=20",
            ),
            "community_received_ms": ("community1", "/api/v1/cases?status=received&page_size=20"),
            "department_signed_ms": ("dept_cg", "/api/v1/cases?status=signed&page_size=20"),
            "dispatcher_text_ms": ("dispatcher1", "/api/v1/cases?q=%E8%B7%AF%E7%81%AF&page_size=20"),
            "department_text_ms": ("dept_cg", "/api/v1/cases?q=%E8%B7%AF%E7%81%AF&page_size=20"),
            "dispatcher_number_ms": ("dispatcher1", "/api/v1/cases?q=CB0012345&page_size=20"),
            # A wide search: 小区 is in one case in eight (125,000).
            "dispatcher_wide_text_ms": ("dispatcher1", "/api/v1/cases?q=%E5%B0%8F%E5%8C%BA&page_size=20"),
            # The same term in one community's cases (8,000 of them): every one of the 125,000 is read.
            "community_wide_text_ms": ("community1", "/api/v1/cases?q=%E5%B0%8F%E5%8C%BA&page_size=20"),
            # A Party member's scope: what was offered to their community and what they claimed.
            "member_list_ms": ("member1", "/api/v1/cases?page_size=20"),
            "member_signed_ms": ("member1", "/api/v1/cases?status=signed&page_size=20"),
        }
        for name, (who, path) in probes.items():
            client.call("GET", path, who)  # warm the worker and the cache
            figures[name] = round(_median_ms(partial(client.call, "GET", path, who)), 1)
            say(f"{name}: median {figures[name]} ms ({path} as {who})")
        for who in ("dispatcher1", "dept_cg", "community1", "member1"):
            name, session = f"inbox_page_{who}_ms", setup["sessions"][who]
            client.page("/cases/", session)
            figures[name] = round(_median_ms(partial(client.page, "/cases/", session)), 1)
            say(f"{name}: median {figures[name]} ms (the desk's inbox page, every tab counted)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        db.drop()
    return figures


# Registers `api-instructions` (kept apart: this module is long enough).
from civicgrid.cases import bench_instructions  # noqa: E402, F401
