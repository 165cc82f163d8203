"""The demo wing."""
