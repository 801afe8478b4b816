"""Mutation testing (`make mutate`): mutmut over the modules where a wrong line is a security or data bug.

Each module is mutated on its own and tested only by its own test folder, in a throwaway copy of the
repository (mutmut 3 writes a `mutants/` tree next to the code), and the kill rate is printed per module:

    python -m scripts.mutate                     # every module in TARGETS
    python -m scripts.mutate server/_grammar.py  # just these (paths as in TARGETS)
    python -m scripts.mutate --keep ...          # keep the copies, to inspect survivors with `mutmut show`

Goal: at least 90 % killed per module; the survivors that are equivalent are listed in tests/MUTANTS.md.
Not part of `make test`: one module takes minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("mutate")

# module -> the tests that own it (a module's own folder or file, so a run stays minutes, not hours)
TARGETS: dict[str, list[str]] = {
    "server/_grammar.py": ["tests/server/test_http11.py"],
    "server/http11.py": ["tests/server/test_http11.py", "tests/server/test_http11_refusals.py"],
    "server/wsgi_checks.py": ["tests/server/test_wsgi_checks.py", "tests/server/test_wsgi.py"],
    "server/_body.py": [
        "tests/server/test_body_readers.py", "tests/server/test_http11.py", "tests/server/test_protocol.py",
        "tests/server/test_wsgi.py",
    ],
    "server/wsgi_input.py": [
        "tests/server/test_wsgi_input.py", "tests/server/test_wsgi.py", "tests/server/test_protocol.py",
    ],
    "server/body_spool.py": [
        "tests/server/test_request_bodies.py", "tests/server/test_protocol.py", "tests/server/test_wsgi.py",
    ],
    "miniweb/csrf.py": [
        "tests/miniweb/test_mw_templates_csrf.py", "tests/miniweb/test_mw_csrf_origin.py",
        "tests/miniweb/test_mw_sessions.py",  # rotate_nonce: the login of a session
    ],
    "miniweb/sessions.py": ["tests/miniweb/test_mw_sessions.py"],
    "miniweb/hmacs.py": ["tests/miniweb/test_mw_hmacs.py"],  # what csrf.py and sessions.py sign with
    "miniweb/static.py": [
        "tests/miniweb/test_mw_static.py", "tests/miniweb/test_mw_static_interval.py",
        "tests/miniweb/test_mw_ranges.py",
    ],
    "miniweb/openfile.py": ["tests/miniweb/test_mw_static.py"],  # OpenFile, moved out of static.py
    "miniweb/routing.py": [  # typed groups, url_for and mount points have test files of their own
        "tests/miniweb/test_mw_routing.py", "tests/miniweb/test_mw_route_index.py",
        "tests/miniweb/test_mw_registration.py", "tests/miniweb/test_mw_urls.py",
        "tests/miniweb/test_mw_mount.py",
        # Router.build hands over to building.py: url_for's own tests are routing's too (17 more killed)
        "tests/miniweb/test_mw_url_fast.py", "tests/miniweb/test_mw_building.py",
    ],
    "miniweb/building.py": [  # url_for: the fast path per route and the general one it must equal
        "tests/miniweb/test_mw_urls.py", "tests/miniweb/test_mw_url_fast.py",
        "tests/miniweb/test_mw_routing.py", "tests/miniweb/test_mw_mount.py",
        "tests/miniweb/test_mw_building.py",  # equal keys spelled differently, the kept paths, the query
    ],
    "miniweb/matching.py": ["tests/miniweb/test_mw_routing.py", "tests/miniweb/test_mw_route_index.py"],
    "miniweb/templating.py": [  # the escape, the context call, the flat globals: each against Jinja2's own
        "tests/miniweb/test_mw_template_escape.py", "tests/miniweb/test_mw_template_context.py",
        "tests/miniweb/test_mw_templates_csrf.py",
    ],
}
# The demo's repository, one module per job (the `mariadb` fixture: SHARED_DATABASE below); each is tested
# by the same files, which reach every module through the package's re-exports.
_REPOSITORY_TESTS = [
    "tests/favorites/test_repository.py", "tests/favorites/test_repository_mutants.py",
    "tests/favorites/test_accounts.py", "tests/favorites/test_refcache.py",  # the versioned reads
]
REPOSITORY = [f"apps/favorites/repository/{name}.py"
              for name in ("base", "areas", "collection", "users", "versioned")]
TARGETS.update((module, _REPOSITORY_TESTS) for module in REPOSITORY)
GOAL = 0.90
# Seconds added to each mutant's time budget (mutmut's default is 1): the tests of these modules start a
# throwaway MariaDB in every mutant's run (~8 s, far more under load), which the per-test timings that
# mutmut budgets by do not include; without it, mutants that merely waited for the database "timed out"
# and were counted as killed.
TIMEOUT_CONSTANT = dict.fromkeys(REPOSITORY, 10.0)  # x 15 (timeout_multiplier): 150 s
# Modules whose tests use tests/favorites' `mariadb` fixture. With one mutant tested at a time, the run
# starts one MariaDB for all of them (MINIWEB_TEST_MARIADB, see tests/favorites/conftest.py) instead of one
# per mutant's session: no install-db and server start per mutant, only the reload of the reference data.
# Mutants tested at once would empty each other's tables, so with --max-children above 1 each session
# starts its own instance as in a plain test run.
SHARED_DATABASE = set(REPOSITORY)


def _copy_repository(into: Path) -> None:
    """The tracked files plus uncommitted edits (so a mutation run sees what is in the worktree)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.splitlines()  # fmt: skip
    for name in listed:
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _configure(copy: Path, module: str, tests: list[str]) -> None:
    top_level = sorted({path.split("/")[0] for path in ["server", "miniweb", "apps", "tests", "scripts"]})
    extra = [name for name in ("templates", "static", "sql", "data", "bench") if (copy / name).exists()]
    lines = ["", "[tool.mutmut]", f"paths_to_mutate = [{module!r}]", f"tests_dir = {tests!r}",
             f"also_copy = {top_level + extra!r}",
             "pytest_add_cli_args = ['-p', 'no:cacheprovider', '-q', '-x']"]  # fmt: skip
    if module in TIMEOUT_CONSTANT:
        lines.append(f"timeout_constant = {TIMEOUT_CONSTANT[module]}")
    with (copy / "pyproject.toml").open("a", encoding="utf-8") as out:
        out.write("\n".join(lines).replace("'", '"') + "\n")


def _stop_leftovers(copy: Path, wait: float = 60.0) -> None:
    """Stop the processes this run started and left behind: a mariadbd runs in its own session, so a
    mutant's test run killed on timeout leaves it running. Found by the copy's path in their command line."""
    marker = str(copy).encode() + b"/"
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if marker in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    for pid in pids:
        log.warning("stopping pid %d left running by the mutants' tests", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _shared_database(module: str, children: int | None, copy: Path, env: dict[str, str]) -> Iterator[None]:
    """One MariaDB for every mutant's test session of `module` (SHARED_DATABASE), named in `env`."""
    if module not in SHARED_DATABASE:
        yield
        return
    if children != 1:
        log.warning("%s: --max-children is not 1: every mutant's tests start a MariaDB of their own", module)
        yield
        return
    from scripts.localdb import LocalMariaDB, free_port  # pymysql: only for the modules that need it

    db = LocalMariaDB(copy / ".tmp" / "mariadb", port=free_port())
    db.start()
    env["MINIWEB_TEST_MARIADB"] = f"{db.datadir}:{db.port}"
    try:
        yield
    finally:
        db.stop()


def run_one(module: str, tests: list[str], keep: bool, children: int | None = None) -> dict[str, int]:
    """Mutate `module`, run its tests against every mutant; returns mutmut's counts."""
    copy = Path(tempfile.mkdtemp(prefix="mutate-"))
    try:
        _copy_repository(copy)
        _configure(copy, module, tests)
        mutmut = Path(sys.executable).with_name("mutmut")
        # Temp files inside the copy: the throwaway MariaDB of tests/favorites lives there, so one that a
        # timed-out mutant's run could not stop is found (by its command line) and stopped below.
        (copy / ".tmp").mkdir()
        env = {**os.environ, "PYTHONPATH": str(copy), "TMPDIR": str(copy / ".tmp")}
        parallel = [] if children is None else ["--max-children", str(children)]
        with _shared_database(module, children, copy, env):
            subprocess.run([str(mutmut), "run", *parallel], cwd=copy, env=env, check=False)
        subprocess.run([str(mutmut), "export-cicd-stats"], cwd=copy, env=env, check=True,
                       capture_output=True)  # fmt: skip
        stats = json.loads((copy / "mutants" / "mutmut-cicd-stats.json").read_text())
        survivors = subprocess.run([str(mutmut), "results"], cwd=copy, env=env, check=False,
                                   capture_output=True, text=True).stdout  # fmt: skip
        if survivors.strip():
            log.info("survivors in %s (see them with `mutmut show NAME` in %s):\n%s", module, copy, survivors)
        return stats
    finally:
        _stop_leftovers(copy)
        if keep:
            log.info("kept %s", copy)
        else:
            shutil.rmtree(copy, ignore_errors=True)


def verdict(killed: int, tested: int) -> tuple[float, str]:
    """The kill rate and what is wrong with it ("" when it meets GOAL). No mutant tested means mutmut's run
    or its stats step failed: a failure, never a perfect score."""
    if not tested:
        return 0.0, "  no mutant was tested: see mutmut's output above"
    rate = killed / tested
    return rate, "" if rate >= GOAL else f"  below {GOAL:.0%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules from TARGETS (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the mutated copies for inspection")
    parser.add_argument("--max-children", type=int, default=None, metavar="N",
                        help="mutants tested at once (mutmut's default: one per core)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    unknown = [name for name in args.modules if name not in TARGETS]
    if unknown:
        parser.error(f"not in TARGETS: {', '.join(unknown)}")
    rates = {}
    for module in args.modules or list(TARGETS):
        started = time.monotonic()
        stats = run_one(module, TARGETS[module], args.keep, args.max_children)
        log.info("%s: %.0f s", module, time.monotonic() - started)
        # Timeouts count as killed (the mutant hung the tests), as mutmut's own score does.
        killed = stats["killed"] + stats["timeout"]
        tested = killed + stats["survived"] + stats["no_tests"] + stats["suspicious"]
        rates[module] = (killed, tested)
    failed = False
    log.info("\n%-32s %8s %8s %7s", "module", "killed", "mutants", "rate")
    for module, (killed, tested) in rates.items():
        rate, below = verdict(killed, tested)
        failed |= bool(below)
        log.info("%-32s %8d %8d %6.1f%%%s", module, killed, tested, 100 * rate, below)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
