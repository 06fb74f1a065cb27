// The Machine module. See docs/architecture.md.
