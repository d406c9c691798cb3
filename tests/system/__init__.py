"""Tests of prefectwin.system: the system adapters.

A package, so that a test module here may share its basename with one in another folder."""
