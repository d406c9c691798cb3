"""Command families: `prefectwin.commands.<family>` holds every `<family>.<verb>` command."""
