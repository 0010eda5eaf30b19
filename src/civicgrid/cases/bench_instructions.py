"""Instructions per API call in the Django process, counted by callgrind: repeatable where times are not.

`civicgrid bench api-instructions` loads the demo world into a throw-away database (as api-lifecycle
does), then runs a child process under `valgrind --tool=callgrind` with counting off. The child
serves the same lifecycles as api-lifecycle through Django's test client (no HTTP server) and turns
counting on around them with `callgrind_control`, then around as many bare `GET /me` calls. A count
does not change with what else the machine is doing, so two versions of the code compare on a shared
machine whose speed moves by a fifth within a minute (docs/performance.md, "api-lifecycle", item 9).
It counts the Python process only: the database's work and the kernel's (system calls) are not in it.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from civicgrid.benchmarking import Figures, Say, benchmark

LIFECYCLES = int(os.environ.get("CIVICGRID_BENCH_LIFECYCLES", "6"))
WARM_UP = 3  # lifecycles before counting: first imports, caches, prepared statements


def totals(dump: str) -> tuple[str, int]:
    """The trigger (the name given to `callgrind_control -d`) and the instruction total of one dump."""
    trigger, total = "", None
    for line in dump.splitlines():
        if line.startswith("desc: Trigger:"):
            trigger = line.split(":", 2)[2].strip().removeprefix("dump ")
        elif line.startswith("totals:"):
            total = int(line.split()[1])
    if total is None:
        raise ValueError("not a callgrind dump: no totals line")
    return trigger, total


@benchmark("api-instructions")
def api_instructions(say: Say) -> Figures:
    """Instructions per step and per bare request in the Django process (callgrind)."""
    from civicgrid.cases.bench import _SETUP, ACTORS, BenchDatabase, _civicgrid, _env

    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        say("skipped: needs valgrind (apt-get install valgrind)")
        return {"skipped": "needs valgrind"}
    db = BenchDatabase()
    db.create()
    try:
        env = _env(db)
        _civicgrid(env, "demo", "--no-serve")
        setup = _civicgrid(env, "shell", "-c", _SETUP % (ACTORS, ACTORS)).strip().splitlines()[-1]
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={out}/callgrind.out",
                    sys.executable,
                    "-m",
                    "civicgrid.cases.bench_instructions",
                ],
                env={**env, "CIVICGRID_BENCH_SETUP": setup, "CIVICGRID_BENCH_LIFECYCLES": str(LIFECYCLES)},
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise RuntimeError(f"the counted run failed:\n{done.stderr[-3000:]}")
            counted = dict(totals(path.read_text()) for path in Path(out).glob("callgrind.out.*"))
    finally:
        db.drop()
    calls = 7 * LIFECYCLES
    step, bare = counted["steps"] / calls, counted["bare"] / calls
    say(
        f"{LIFECYCLES} lifecycles ({calls} calls) and {calls} bare GET /me in-process on "
        f"{'PostgreSQL' if db.postgres else 'SQLite'}: {step / 1e6:.2f} M instructions a step, "
        f"{bare / 1e6:.2f} M a bare request"
    )
    return {
        "database": "postgresql" if db.postgres else "sqlite",
        "lifecycles": LIFECYCLES,
        "step_minstr": round(step / 1e6, 2),
        "bare_minstr": round(bare / 1e6, 2),
        "bare_to_step": round(bare / step, 3),
    }


def _counted_child() -> None:
    """The process under callgrind: lifecycles, then bare requests, each counted and dumped by name."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    django.setup()
    from django.test import Client

    from civicgrid.cases.bench import run_lifecycle

    setup = json.loads(os.environ["CIVICGRID_BENCH_SETUP"])
    lifecycles = int(os.environ["CIVICGRID_BENCH_LIFECYCLES"])
    client = Client()

    def call(method: str, path: str, who: str, body: dict | None = None, key: str = "") -> dict:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {setup['tokens'][who]}"}
        if key:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        if method == "GET":
            reply = client.get(path, **headers)  # type: ignore[arg-type]
        else:
            reply = client.post(path, json.dumps(body), content_type="application/json", **headers)  # type: ignore[arg-type]
        if reply.status_code >= 300:
            raise RuntimeError(f"{method} {path} as {who}: {reply.status_code} {reply.content[:300]!r}")
        return json.loads(reply.content)

    def bare() -> int:
        for _ in range(7):  # as many calls as a lifecycle
            call("GET", "/api/v1/me", "dept_cg")
        return 7

    def control(*args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)

    for _ in range(WARM_UP):
        run_lifecycle(call, setup)
        bare()
    # As a web worker does once started (civicgrid/wsgi.py): without it a full pass of the garbage
    # collector over everything loaded (~110 M instructions) fell into one window or the other as
    # allocations happened to add up, and made a bare request count 4.4 M instead of 2.6 M.
    gc.collect()
    gc.freeze()
    for name, run in (("steps", lambda: run_lifecycle(call, setup)), ("bare", bare)):
        control("-i", "on")
        for _ in range(lifecycles):
            run()
        control("-d", name)  # writes the counts so far and starts again from zero
        control("-i", "off")


if __name__ == "__main__":
    _counted_child()
