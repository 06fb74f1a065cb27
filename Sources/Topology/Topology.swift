// The Topology module. See docs/architecture.md.
