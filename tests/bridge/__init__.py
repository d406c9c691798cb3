"""Tests of the bridge: rpc, serve, the protocol and wire format, the CLI (doctor) and the contract fixtures.

A package, so that a test module here may share its basename with one in another folder."""
