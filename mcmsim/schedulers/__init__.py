"""Built-in schedulers; each module holds one, registered by name in the schedule registry."""
