"""The fleet: many stations from one command (issue 11)."""
