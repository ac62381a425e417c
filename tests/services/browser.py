"""A real headless Chromium for the page tests: Debian's `chromium` (`.ci/run` installs it) driven by Playwright,
which downloads nothing: it is pointed at the installed browser. MARSAD_TEST_CHROMIUM names another one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MISSING = ("no Chromium found (/usr/lib/chromium/chromium, chromium on PATH): `apt-get install chromium`, "
           "or set MARSAD_TEST_CHROMIUM; .ci/run installs it")
# Root in a container has no user namespace sandbox; /dev/shm is often 64 MB there.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=ar"]


def executable() -> str | None:
    given = os.environ.get("MARSAD_TEST_CHROMIUM")
    if given:
        return given
    for candidate in ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
