"""A third-party Baton plugin: one of each extension point, registered only through the entry
points of its dist-info (nothing in Baton imports it)."""
