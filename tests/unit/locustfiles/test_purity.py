"""The pure locustfiles modules import neither locust nor gevent (fresh interpreter each).

``locustfiles/__init__.py`` must import nothing, so ``import locustfiles.X`` of a pure module
never drags Locust's monkey-patching into analysis or test processes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PURE = (
    "locustfiles",
    "locustfiles.records",
    "locustfiles.streaming",
    "locustfiles.timing",
    "locustfiles.workload",
    "locustfiles.client_policy",
    "locustfiles.distribution",
    "locustfiles.http_wire",
    "locustfiles.connection",
    "locustfiles.api_request",
    "locustfiles.llm_client",
    "locustfiles.options",
    "locustfiles.health",
    "locustfiles.manifest",
    "locustfiles.offered",
    "locustfiles.recorder",
)


def test_pure_modules_do_not_import_locust_or_gevent() -> None:
    code = (
        "import importlib, json, sys\n"
        "leaks = {}\n"
        f"for name in {list(PURE)!r}:\n"
        "    before = set(sys.modules)\n"
        "    importlib.import_module(name)\n"
        "    leaks[name] = sorted({m.split('.')[0] for m in set(sys.modules) - before}\n"
        "                         & {'locust', 'gevent', 'aiohttp', 'greenlet'})\n"
        "print(json.dumps(leaks))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    leaks = json.loads(out.stdout.strip().splitlines()[-1])
    assert {name: mods for name, mods in leaks.items() if mods} == {}


def test_package_init_imports_nothing() -> None:
    code = (
        "import sys\nbefore = set(sys.modules)\nimport locustfiles\n"
        "print(sorted(set(sys.modules) - before - {'locustfiles'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("entry", ["locustfiles.chat", "locustfiles.mixed"])
def test_entry_files_collect_only_their_user_classes(entry: str) -> None:
    """Locust collects every non-abstract User in an entry file's namespace."""
    code = (
        "import importlib, json\n"
        "from locust import User\n"
        f"mod = importlib.import_module({entry!r})\n"
        "users = sorted(n for n, v in vars(mod).items()\n"
        "               if isinstance(v, type) and issubclass(v, User) and not v.abstract)\n"
        "print(json.dumps(users))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    users = json.loads(out.stdout.strip().splitlines()[-1])
    expected = {
        "locustfiles.chat": ["ChatUser"],
        "locustfiles.mixed": ["MixedApiUser", "MixedChatUser", "MixedImageUser"],
    }
    assert users == expected[entry]


def test_every_option_is_in_the_web_ui_start_form() -> None:
    """Locust shows only options its own parser marked (not ones added to an argument group)."""
    code = (
        "import argparse, json\n"
        "from locust import argument_parser\n"
        "from locustfiles.options import add_arguments\n"
        "parser = argument_parser.get_empty_argument_parser()\n"
        "add_arguments(parser)\n"
        "plain = argparse.ArgumentParser()\n"
        "add_arguments(plain)\n"
        "ours = {a.dest for a in plain._actions if a.dest != 'help'}\n"
        "print(json.dumps(sorted(ours - set(parser.args_included_in_web_ui))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
