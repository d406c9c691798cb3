"""Tests of prefectwin.change: the change engine, its journal and recovery.

A package, so that a test module here may share its basename with one in another folder."""
