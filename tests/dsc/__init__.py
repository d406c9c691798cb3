"""Tests of prefectwin.dsc: the DSC commands and manifests.

A package, so that a test module here may share its basename with one in another folder."""
