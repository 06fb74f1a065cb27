// The Switching module. See docs/architecture.md.
