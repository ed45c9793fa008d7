"""Organisation records: grants of environments and services, members, GitHub trust."""
