"""Tests of prefectwin.backup: database backup and restore.

A package, so that a test module here may share its basename with one in another folder."""
