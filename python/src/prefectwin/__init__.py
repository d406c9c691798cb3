"""PrefectWin backend: the logic behind the PrefectWin PowerShell module."""

# A constant, not importlib.metadata: reading distribution metadata costs ~13 ms, which
# the trivial `module.version` round trip cannot afford.
__version__ = "0.1.0"
PROTOCOL_VERSION = 1
