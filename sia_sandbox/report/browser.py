"""Headless Chromium checks of a rendered report (used by tests and ``sia report --check``).

Chromium cannot download anything here, so it is Debian's ``chromium`` started with every background
network feature off. The check loads a copy of the report with a small script appended that counts
decoded plot images and records script errors, then reads the resulting DOM.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import ConfigError

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars",
]
_PROBE = """
<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e.type)); }, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img.plot'));
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var d = document.createElement('div');
  d.id = 'sia-probe';
  d.textContent = 'plots=' + imgs.length + ' decoded=' + ok + ' errors=' + window.__errors.length +
    ' external=' + document.querySelectorAll('script[src],link[href^=http],img[src^=http]').length;
  document.body.appendChild(d);
});
</script>
"""


class BrowserCheck(BaseModel):
    """What headless Chromium saw."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plots: int
    decoded: int
    errors: int
    external: int
    screenshot: str | None = None


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise ConfigError("headless Chromium not found", hint="apt-get install chromium (make install does it)")


def check_report(report: Path, *, screenshot: Path | None = None, timeout_s: float = 90.0) -> BrowserCheck:
    """Load ``report`` in headless Chromium; count plots that decoded and script errors.

    Raises:
        ConfigError: Chromium is missing.
        RuntimeError: Chromium failed or printed no probe result.
    """
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="sia-chromium-") as tmp:
        probe_copy = Path(tmp) / "report-probe.html"
        html = report.read_text(encoding="utf-8")
        probe_copy.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
        base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile"]
        dom = subprocess.run([*base, "--dump-dom", probe_copy.as_uri()], capture_output=True, text=True,
                             timeout=timeout_s)
        m = re.search(r'id="sia-probe">plots=(\d+) decoded=(\d+) errors=(\d+) external=(\d+)<', dom.stdout)
        if not m:
            raise RuntimeError(f"chromium produced no probe result (exit {dom.returncode}): {dom.stderr[-800:]}")
        shot = None
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([*base, "--window-size=1200,2400", f"--screenshot={screenshot}", report.absolute().as_uri()],
                           capture_output=True, text=True, timeout=timeout_s)
            shot = str(screenshot) if screenshot.exists() else None
    plots, decoded, errors, external = (int(g) for g in m.groups())
    return BrowserCheck(plots=plots, decoded=decoded, errors=errors, external=external, screenshot=shot)
