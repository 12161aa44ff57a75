"""Runtime plumbing shared by the web and the worker: configuration, embedded services, queue, CLI."""
