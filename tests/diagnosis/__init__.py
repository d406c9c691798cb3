"""Tests of prefectwin.diagnosis: the checks and the facts they judge.

A package, so that a test module here may share its basename with one in another folder."""
