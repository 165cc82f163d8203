"""The log wing."""
