// Tests for Switching.
