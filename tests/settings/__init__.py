"""Tests of prefectwin.settings: settings and repairs.

A package, so that a test module here may share its basename with one in another folder."""
