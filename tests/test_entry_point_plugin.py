"""Plugins installed for real: distributions with a ``tfdrift_hook`` entry point.

Two throwaway distributions are installed by pip into a directory of their own, and
``python -m tfdrift_hook`` runs in a subprocess with that directory on its path, so the
plugins are found the way a user's are: through ``importlib.metadata``. One plugin
writes a marker in pre-plan and says so; the other raises when imported.

The distributions are wheels this module writes itself. Building one from a project
directory (``pip install <dir>``) needs a build backend that can write wheels, and the
setuptools installed here (65) cannot without the separate ``wheel`` package, which is
not installed; the tests may not fetch it. pip still does the installing: it unpacks
the wheel and writes the ``.dist-info`` (RECORD, INSTALLER) as for any package.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.kms_state import KEY_1234, kms_key, write_records, write_state

PROJECT_ROOT = Path(__file__).resolve().parents[1]

MARKER_PLUGIN = '''\
"""Notes each pre-plan in the file ACME_MARKER names."""

from pathlib import Path

from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.lifecycle import HookOutcome


@hookimpl
def tfdrift_pre_plan(phase):
    marker = Path(phase.environ["ACME_MARKER"])
    marker.write_text(f"{phase.name} wrapped={phase.wrapped}\\n", encoding="utf-8")
    return HookOutcome(summary=f"acme-marker wrote {marker.name}")
'''

BROKEN_PLUGIN = '''\
"""A plugin whose import fails, as one does when its own setup is missing."""

raise RuntimeError("acme SDK is not configured")
'''


def _digest(data: bytes) -> str:
    encoded = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "sha256=" + encoded.rstrip(b"=").decode()


def write_wheel(directory: Path, name: str, module: str, source: str) -> Path:
    """A pure-Python wheel of one module, with its entry point named ``name``."""
    stem = f"{module}-0.1"
    info = f"{stem}.dist-info"
    files = {
        f"{module}.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tfdrift-hook tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[tfdrift_hook]\n{name} = {module}\n",
    }
    record = [
        f"{path},{_digest(text.encode())},{len(text.encode())}"
        for path, text in files.items()
    ]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both distributions, installed by pip into a directory of their own."""
    build = tmp_path_factory.mktemp("wheels")
    target = tmp_path_factory.mktemp("site")
    wheels = [
        write_wheel(build, "acme-marker", "acme_marker_plugin", MARKER_PLUGIN),
        write_wheel(build, "acme-broken", "acme_broken_plugin", BROKEN_PLUGIN),
    ]
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"]
    command += ["--no-build-isolation", "--disable-pip-version-check", "--quiet"]
    command += ["--target", str(target), *map(str, wheels)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return target


def tfdrift(
    site: Path, directory: Path, *args: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TFDRIFT_")}
    path = os.pathsep.join([str(site), str(PROJECT_ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "tfdrift_hook", *args],
        cwd=directory,
        env={**clean, "PYTHONPATH": path, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_pip_installed_both_distributions_with_their_entry_points(site: Path) -> None:
    entry_points = sorted(site.glob("*.dist-info/entry_points.txt"))

    assert [path.parent.name for path in entry_points] == [
        "acme_broken_plugin-0.1.dist-info",
        "acme_marker_plugin-0.1.dist-info",
    ]
    assert (site / "acme_marker_plugin-0.1.dist-info" / "INSTALLER").is_file()


def test_the_plugins_command_lists_the_installed_plugin_and_names_the_broken_one(
    site: Path, tmp_path: Path
) -> None:
    run = tfdrift(site, tmp_path, "plugins")

    lines = run.stdout.splitlines()
    assert run.returncode == 3, run.stderr
    assert "acme-marker: tfdrift_pre_plan" in lines
    assert (
        "acme-broken: FAILED to load: RuntimeError: acme SDK is not configured" in lines
    )


def _inputs(directory: Path) -> tuple[str, str]:
    state = write_state(directory, kms_key("app", KEY_1234))
    events = write_records(directory, "events.json")
    return str(state), str(events)


def test_an_installed_lifecycle_hook_runs_and_a_broken_plugin_makes_it_incomplete(
    site: Path, tmp_path: Path
) -> None:
    state, events = _inputs(tmp_path)
    marker = tmp_path / "marker.txt"

    run = tfdrift(
        site,
        tmp_path,
        "pre-plan",
        "--state",
        state,
        "--events",
        events,
        ACME_MARKER=str(marker),
    )

    assert run.returncode == 3
    assert marker.read_text(encoding="utf-8") == "pre-plan wrapped=False\n"
    assert "tfdrift-hook: pre-plan: acme-marker wrote marker.txt" in run.stderr
    assert (
        "plugin acme-broken failed to load (RuntimeError: acme SDK is not configured)"
        in run.stderr
    )


def test_disabling_the_broken_plugin_by_name_makes_the_run_clean(
    site: Path, tmp_path: Path
) -> None:
    state, events = _inputs(tmp_path)
    marker = tmp_path / "marker.txt"
    disabled = {"TFDRIFT_HOOK_DISABLE_PLUGINS": "acme-broken"}

    run = tfdrift(
        site,
        tmp_path,
        "pre-plan",
        "--state",
        state,
        "--events",
        events,
        ACME_MARKER=str(marker),
        **disabled,
    )
    listed = tfdrift(site, tmp_path, "plugins", **disabled)

    assert run.returncode == 0, run.stderr
    assert marker.is_file()
    assert "acme-broken" not in run.stderr + run.stdout
    assert listed.returncode == 0
    assert "acme-broken: disabled by TFDRIFT_HOOK_DISABLE_PLUGINS" in listed.stdout
