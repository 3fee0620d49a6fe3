"""``surgebench worker``: one machine's share of a master/worker run (docs/distributed.md).

The worker runs Locust in the foreground (``--worker``); Locust stops it when the master
quits. Records go to the master's ``--run-dir`` path on this machine's disk (Locust sends
the master's custom options to every worker), unless that path is a shared volume.
"""

from __future__ import annotations

import subprocess

from surgebench.exit_code import ExitCode, UsageError
from surgebench.locust_command import locustfile_path, shape_file_for, worker_argv
from surgebench.shape_args import preset_document


def run_worker(
    *,
    profile: str,
    master_host: str,
    master_port: int,
    processes: int,
    locustfile: str,
    extra: tuple[str, ...],
) -> int:
    if processes < 1:
        raise UsageError(f"Invalid --processes {processes}; allowed: an integer >= 1")
    if not 1 <= master_port <= 65535:
        raise UsageError(f"Invalid --master-port {master_port}; allowed: 1..65535")
    builder = preset_document_builder(profile)
    argv = worker_argv(
        locustfile_path(locustfile),
        shape_file_for(builder),
        master_host=master_host,
        master_port=master_port,
        processes=processes,
        extra=extra,
    )
    proc = subprocess.Popen(argv)
    try:
        return _exit_code(proc.wait())
    except KeyboardInterrupt:
        # A terminal Ctrl-C also reached Locust (same session); a SIGTERM (a pod being
        # stopped) reached only us: pass it on if Locust is still running.
        try:
            proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=30.0)
        return int(ExitCode.OK)


def preset_document_builder(profile: str) -> str:
    import profiles

    if profile not in profiles.available() and not profile.endswith(".toml"):
        known = ", ".join(profiles.available())
        raise UsageError(f"Unknown profile {profile!r}; known: {known} (or a .toml file)")
    builder = preset_document(profile).get("builder")
    if not isinstance(builder, str):
        raise UsageError(f"Profile {profile!r} has no builder; use a builder-form TOML file")
    return builder


def _exit_code(locust_code: int) -> int:
    # Locust exits 1 when any request failed: that is the master's verdict to give, not ours.
    return int(ExitCode.OK) if locust_code in (0, 1) else int(ExitCode.USAGE)
