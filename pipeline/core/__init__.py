"""Pure functions: arrays, bytes and records in, new records out. No paths, no I/O."""
