"""The `clientela` command."""
