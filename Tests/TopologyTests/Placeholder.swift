// Tests for Topology.
