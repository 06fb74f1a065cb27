// Tests for Capture.
