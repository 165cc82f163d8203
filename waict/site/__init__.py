"""The site wing."""
