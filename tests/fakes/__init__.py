"""Test doubles for the only things this machine cannot do for real: Windows calls.

- adapter.FakeAdapter: a recording prefectwin SystemAdapter (install with the `fake_adapter`
  fixture, or `prefectwin.system.use_adapter(FakeAdapter(...))`).
- dotnet.FakeDotNet: the .NET surface prefectwin.system.windows touches, for
  `WindowsAdapter(net=FakeDotNet(...))`.
- facts.make_facts: hand-built diagnosis Facts for pure check tests.
"""
