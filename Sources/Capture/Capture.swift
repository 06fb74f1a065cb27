// The Capture module. See docs/architecture.md.
