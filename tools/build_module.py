"""Build the PrefectWin module folder that './build.ps1 Build' publishes.

    python tools/build_module.py [--out OUT]      (any Python 3.9+; standard library only)

writes OUT/PrefectWin/<ModuleVersion>/ (OUT defaults to out/ in the repository):
  PrefectWin.psd1            the manifest, unchanged
  PrefectWin.psm1            PrefectWin.psm1 with its region 'PrefectWin.Sources' (which
                             dot-sources Private/ and Public/ at import) replaced by the text of
                             every Private/ and then Public/ file, in name order, and a literal
                             Export-ModuleMember of the Public/ functions; everything else in
                             it, the DSC resource classes included, is kept as it is
  PrefectWin.Format.ps1xml   unchanged
  en-US/about_PrefectWin.help.txt
  dsc/*.dsc.resource.json    the DSC v3 resource manifests, unchanged
  python/                    the backend package (pyproject.toml, README.md, src/prefectwin),
                             without caches and build metadata

One file instead of ~20 dot-sourced ones makes Import-Module faster, and DSC finds the classes
in the root module either way. The logic is here, in Python, rather than in build.ps1 so that
tests/module/test_build.py runs this very code and checks the files it writes, and tests/Module.Tests.ps1
imports and parses its result with PowerShell. It is tooling: nothing in the backend's rpc path
imports it.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULE = "PrefectWin"
REGION = re.compile(r"^#region PrefectWin\.Sources[ \t]*\n.*?^#endregion PrefectWin\.Sources[ \t]*\n", re.S | re.M)
COPIED = ("PrefectWin.psd1", "PrefectWin.Format.ps1xml", "en-US/about_PrefectWin.help.txt")
PYTHON_FILES = ("pyproject.toml", "README.md")
PYTHON_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info")


class BuildError(Exception):
    """The sources are not in the shape the build relies on."""


def module_version(manifest: str) -> str:
    match = re.search(r"^\s*ModuleVersion\s*=\s*'(\d+\.\d+\.\d+)'\s*$", manifest, re.M)
    if match is None:
        raise BuildError("PrefectWin.psd1 has no ModuleVersion = 'major.minor.patch'")
    return match.group(1)


def _ascii(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if not text.isascii():
        raise BuildError(f"{path.parent.name}/{path.name} is not ASCII (Windows PowerShell reads BOM-less files as ANSI)")
    return text.replace("\r\n", "\n")


def combined_psm1(repo: Path = REPO) -> str:
    """The root module with its sources inlined (see the module docstring)."""
    root = _ascii(repo / f"{MODULE}.psm1")
    regions = REGION.findall(root)
    if len(regions) != 1:
        raise BuildError(f"{MODULE}.psm1 must have exactly one '#region PrefectWin.Sources' ... '#endregion PrefectWin.Sources', not {len(regions)}")
    parts = ["#region PrefectWin.Sources (inlined by tools/build_module.py from Private/ and Public/)\n"]
    public: list[str] = []
    for folder in ("Private", "Public"):
        files = sorted((repo / folder).glob("*.ps1"), key=lambda path: path.name.lower())
        if not files:
            raise BuildError(f"{folder}/ has no .ps1 files")
        for path in files:
            parts.append(f"\n# ---- {folder}/{path.name} ----\n")
            parts.append(_ascii(path).rstrip("\n") + "\n")
            if folder == "Public":
                public.append(path.stem)
    names = ",\n".join(f"    '{name}'" for name in public)
    parts.append(f"\nExport-ModuleMember -Function @(\n{names}\n)\n#endregion PrefectWin.Sources\n")
    return REGION.sub(lambda _: "".join(parts), root, count=1)


def build(out: Path, repo: Path = REPO) -> Path:
    """Write out/PrefectWin/<version>/ afresh and return that folder."""
    version = module_version(_ascii(repo / f"{MODULE}.psd1"))
    target = out / MODULE / version
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / f"{MODULE}.psm1").write_text(combined_psm1(repo), encoding="ascii", newline="\n")
    for name in COPIED:
        source = repo / name
        if not source.is_file():
            raise BuildError(f"{name} is missing")
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / name)
    manifests = sorted((repo / "dsc").glob("*.dsc.resource.json"))
    if not manifests:
        raise BuildError("dsc/ has no *.dsc.resource.json manifests")
    (target / "dsc").mkdir()
    for path in manifests:
        shutil.copyfile(path, target / "dsc" / path.name)
    python = target / "python"
    python.mkdir()
    for name in PYTHON_FILES:
        shutil.copyfile(repo / "python" / name, python / name)
    shutil.copytree(repo / "python" / "src" / "prefectwin", python / "src" / "prefectwin", ignore=PYTHON_IGNORED)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out", help="output folder (default: out/)")
    args = parser.parse_args(argv)
    try:
        target = build(args.out.resolve())
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
