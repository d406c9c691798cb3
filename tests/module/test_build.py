"""'./build.ps1 Build', the Python side of it.

build.ps1 Build runs `python tools/build_module.py --out out`; these tests run that same script
and check what it writes as files and text: the versioned folder, the files copied unchanged,
the combined psm1's one use of $PSScriptRoot, and the backend package inside, which is run for
real. PowerShell judges the built module itself in tests/Module.Tests.ps1: Import-Module and
Test-ModuleManifest on it, its parse, every function once, no dot-sourcing, Export-ModuleMember
against the manifest, the DSC classes, and the house and 5.1 rules over the combined psm1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import build_module  # noqa: E402

BUILDER = REPO / "tools" / "build_module.py"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    done = subprocess.run([sys.executable, str(BUILDER), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert folder.is_dir()
    return folder


@pytest.fixture(scope="module")
def combined(built: Path) -> str:
    return (built / "PrefectWin.psm1").read_text(encoding="ascii")


def test_the_folder_is_out_prefectwin_version(built: Path) -> None:
    assert built.name == build_module.module_version((REPO / "PrefectWin.psd1").read_text(encoding="ascii"))
    assert built.parent.name == "PrefectWin"
    names = sorted(path.relative_to(built).as_posix() for path in built.iterdir())
    assert names == ["PrefectWin.Format.ps1xml", "PrefectWin.psd1", "PrefectWin.psm1", "dsc", "en-US", "python"]
    manifests = sorted(path.relative_to(REPO).as_posix() for path in (REPO / "dsc").glob("*.dsc.resource.json"))
    assert sorted(path.relative_to(built).as_posix() for path in (built / "dsc").iterdir()) == manifests and manifests
    for name in ("PrefectWin.psd1", "PrefectWin.Format.ps1xml", "en-US/about_PrefectWin.help.txt", *manifests):
        assert (built / name).read_bytes() == (REPO / name).read_bytes(), name


def test_the_combined_psm1_uses_psscriptroot_only_to_record_its_folder(combined: str) -> None:
    """The sources' own $PSScriptRoot (their folder) is gone; the root module records the module's."""
    uses = [line.strip() for line in combined.splitlines() if "$PSScriptRoot" in line and not line.lstrip().startswith("#")]
    assert uses == ["$script:PrefectWinModuleRoot = $PSScriptRoot"]
    assert combined.count("New-Object -TypeName System.Diagnostics.ProcessStartInfo") == 1, "the bridge, once"
    assert "#region PrefectWin.Sources" in combined and ". $file.FullName" not in combined


def test_python_is_inside_without_caches(built: Path) -> None:
    package = built / "python" / "src" / "prefectwin"
    assert (built / "python" / "pyproject.toml").is_file()
    for name in ("__init__.py", "__main__.py", "rpc.py", "serve.py", "target/agent.py"):
        assert (package / name).is_file(), name
    source = {path.relative_to(REPO / "python" / "src" / "prefectwin").as_posix() for path in (REPO / "python" / "src" / "prefectwin").rglob("*.py")}
    copied = {path.relative_to(package).as_posix() for path in package.rglob("*.py")}
    assert copied == source
    assert not [path for path in built.rglob("*") if path.name == "__pycache__" or path.name.endswith((".pyc", ".egg-info"))]


def test_the_bundled_backend_answers(built: Path) -> None:
    """The copied package, not the installed one, serves module.version (its dependencies come
    from this interpreter), started in the module folder as the bridge starts it."""
    environment = {**os.environ, "PYTHONPATH": str(built / "python" / "src")}
    request = {"protocol": 1, "command": "module.version", "params": {}, "whatIf": False, "cwd": str(built.parent)}
    code = "import prefectwin, sys; sys.stderr.write(prefectwin.__file__)"
    where = subprocess.run([sys.executable, "-c", code], cwd=built, env=environment, capture_output=True, text=True, timeout=60)
    assert Path(where.stderr).resolve().is_relative_to(built.resolve()), where.stderr
    done = subprocess.run(
        [sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc"], cwd=built, env=environment, input=json.dumps(request).encode(), capture_output=True, timeout=60
    )
    response = json.loads(done.stdout)
    assert done.returncode == 0 and response["ok"] and response["result"]["protocol"] == 1, done.stderr


def test_a_build_replaces_the_old_version_folder(tmp_path: Path) -> None:
    first = build_module.build(tmp_path)
    (first / "stale.txt").write_text("from an older build", encoding="ascii")
    second = build_module.build(tmp_path)
    assert second == first and not (second / "stale.txt").exists()


def _fake_repo(tmp_path: Path, psm1: str, private: str = "function Get-PrefectThing {\n}\n") -> Path:
    (tmp_path / "Private").mkdir()
    (tmp_path / "Public").mkdir()
    (tmp_path / "PrefectWin.psm1").write_text(psm1, encoding="utf-8")
    (tmp_path / "Private" / "Get-PrefectThing.ps1").write_text(private, encoding="utf-8")
    (tmp_path / "Public" / "Get-PrefectOther.ps1").write_text("function Get-PrefectOther {\n}\n", encoding="utf-8")
    return tmp_path


REGION_PSM1 = "Set-StrictMode -Version 3.0\n#region PrefectWin.Sources\n. $x\n#endregion PrefectWin.Sources\n\nclass Kept {\n}\n"


def test_combining_replaces_only_the_region(tmp_path: Path) -> None:
    text = build_module.combined_psm1(_fake_repo(tmp_path, REGION_PSM1))
    assert text.startswith("Set-StrictMode -Version 3.0\n#region PrefectWin.Sources")
    assert ". $x" not in text and text.endswith("#endregion PrefectWin.Sources\n\nclass Kept {\n}\n")
    assert text.index("# ---- Private/Get-PrefectThing.ps1") < text.index("# ---- Public/Get-PrefectOther.ps1")
    assert "Export-ModuleMember -Function @(\n    'Get-PrefectOther'\n)" in text


@pytest.mark.parametrize(
    ("psm1", "private", "message"),
    [
        ("Set-StrictMode -Version 3.0\n", "function Get-PrefectThing {\n}\n", "exactly one"),
        (REGION_PSM1 + REGION_PSM1, "function Get-PrefectThing {\n}\n", "exactly one"),
        (REGION_PSM1, "function Get-PrefectThing {\n    'caf\u00e9'\n}\n", "not ASCII"),
    ],
)
def test_the_build_refuses_sources_it_cannot_combine(tmp_path: Path, psm1: str, private: str, message: str) -> None:
    with pytest.raises(build_module.BuildError, match=message):
        build_module.combined_psm1(_fake_repo(tmp_path, psm1, private))


def test_build_ps1_builds_with_this_script_and_never_publishes_in_ci() -> None:
    text = (REPO / "build.ps1").read_text(encoding="utf-8")
    build_task = text[text.index("'Build' {") : text.index("'Publish' {")]
    assert "-ChildPath 'build_module.py'" in text and "Invoke-ModuleBuild" in build_task
    publish_task = text[text.index("'Publish' {") :]
    assert "Publish-PrefectWinModule" in publish_task and "-Target $Repository" in publish_task
    assert "Publish-Module @publishParameters" in text and "Repository = $Target" in text
    assert "$env:CI" in text and "GITHUB_ACTIONS" in text
    workflow = (REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "build.ps1 Publish" not in workflow and "Publish-Module" not in workflow
    assert "./build.ps1 Build" in workflow
