"""Tests of prefectwin.services: service specs, plans, logs, operations and payloads.

A package, so that a test module here may share its basename with one in another folder."""
