"""The benchmark's own virtualenv, ``.venv-bench`` (git-ignored): the peers plus this project.

Kept apart from ``.venv`` so the peers' dependencies never leak into the test environment. Built once;
a stamp file records what was installed, so a second run touches nothing and needs no network.
bjoern compiles against libev (``scripts/system-deps.sh bench`` installs libev-dev, gcc and wrk).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

__all__ = [
    "FRAMEWORK_PACKAGES",
    "OPTIONAL_PACKAGES",
    "PEER_PACKAGES",
    "PURE_FALCON",
    "REPO",
    "VENV",
    "ensure_venv",
    "venv_python",
]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv-bench"
PEER_PACKAGES = ("waitress", "gunicorn", "cheroot")
OPTIONAL_PACKAGES = ("bjoern",)  # a C extension: if it cannot be built, the run goes on without it
# The frameworks compared in process (bench.overhead) and the Flask port of the demo (bench.pages).
# Falcon is built from its sdist with FALCON_DISABLE_CYTHON set: the pure-Python build, as issue 14 asks
# (its PyPI wheels are Cython-compiled); bench.overhead reports which build it found.
FRAMEWORK_PACKAGES = ("bottle", "Flask")
PURE_FALCON = ("--no-binary", "falcon", "falcon")
_STAMP = VENV / ".installed"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """Create ``.venv-bench`` with the peers and ``pip install -e .``; return its python."""
    wanted = " ".join((*PEER_PACKAGES, *OPTIONAL_PACKAGES, *FRAMEWORK_PACKAGES, *PURE_FALCON)) + " -e ."
    if _STAMP.is_file() and _STAMP.read_text() == wanted and venv_python().exists():
        return venv_python()
    if not venv_python().exists():
        log.info("creating %s", VENV)
        # sys._base_executable: the interpreter behind .venv, so the new venv does not nest in it.
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    log.info("installing %s into %s", wanted, VENV.name)
    pip = [str(venv_python()), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *PEER_PACKAGES, *FRAMEWORK_PACKAGES], check=True)
    subprocess.run([*pip, *PURE_FALCON], check=True, env={**os.environ, "FALCON_DISABLE_CYTHON": "1"})
    subprocess.run([*pip, "-e", str(REPO)], check=True)
    for name in OPTIONAL_PACKAGES:
        if subprocess.run([*pip, name], check=False).returncode != 0:
            log.warning("could not install %s (needs libev-dev, gcc, Python headers); skipping it", name)
    _STAMP.write_text(wanted)
    return venv_python()
