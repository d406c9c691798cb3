"""Tests of prefectwin.target: the target interpreter and its agents.

A package, so that a test module here may share its basename with one in another folder."""
