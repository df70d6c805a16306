"""DePIN devices: identity, signed readings, fraud checks, rewards and their contracts."""
