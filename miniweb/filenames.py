"""``secure_filename``: a client's upload name made safe to use as one path component (as werkzeug does).

``FileStorage.filename`` is whatever the client wrote: ``../../etc/passwd``, ``C:\\boot.ini``, ``NUL``,
``.htaccess``. The safest design stores uploads under names the app makes up (a UUID, a database id) and
keeps the client's name only for display; when the name must be kept, pass it through this first.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["secure_filename"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
# Device names Windows reserves in any directory, with any extension ("nul.txt" is NUL too).
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{device}{n}" for device in ("COM", "LPT") for n in "123456789"}
)


def secure_filename(filename: str) -> str:
    """An ASCII-only name with no path separators, no leading dots and no Windows device name.

    ``"../../etc/passwd"`` -> ``"etc_passwd"``, ``"My résumé.pdf"`` -> ``"My_resume.pdf"``,
    ``"nul.txt"`` -> ``"_nul.txt"``. Characters without an ASCII form are dropped (``"报告.txt"`` ->
    ``"txt"``), and the result may be empty (``"../"`` -> ``""``): choose a name yourself then.
    """
    # NFKD splits "é" into "e" + a combining accent, which the ASCII encoding then drops.
    text = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    text = text.replace("/", " ").replace("\\", " ")
    text = _UNSAFE.sub("", "_".join(text.split())).strip("._")
    if text.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        text = "_" + text
    return text
