"""Process boundaries (docs/ARCHITECTURE.md): import each package in a fresh interpreter.

``import locust`` monkey-patches the standard library with gevent, so the stub, the analysis
package and the pure parts of locustfiles/profiles must never pull it in; profiles must not
pull in aiohttp either.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "profiles": ("locust", "gevent", "aiohttp"),
    "analysis": ("locust", "gevent", "aiohttp"),
    "target_stub.app": ("locust", "gevent"),
    "target_stub.simulate": ("locust", "gevent", "aiohttp"),
    "locustfiles.records": ("locust", "gevent", "aiohttp"),
    "surgebench": ("locust", "gevent"),
    "locustfiles.webui.window": ("locust", "gevent"),
    "locustfiles.webui.samples": ("locust", "gevent"),
    "locustfiles.webui.scrape": ("locust", "gevent"),
    "locustfiles.webui.rundir": ("locust", "gevent"),
    "locustfiles.webui.report_build": ("locust", "gevent"),
}


def _loaded_after_import(module: str) -> set[str]:
    code = (
        "import importlib, json, sys, pkgutil\n"
        f"pkg = importlib.import_module({module!r})\n"
        "if hasattr(pkg, '__path__'):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", sorted(_FORBIDDEN))
def test_package_does_not_import_forbidden_modules(module: str) -> None:
    loaded = _loaded_after_import(module)
    leaked = sorted(set(_FORBIDDEN[module]) & loaded)
    assert not leaked, f"importing {module} (and its submodules) loaded {leaked}"
