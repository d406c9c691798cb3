"""Tests of the PowerShell module's build (tools/build_module.py).

A package, so that a test module here may share its basename with one in another folder."""
