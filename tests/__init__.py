"""The tests of kurilwatch: unit, integration and end-to-end, and the helpers they share."""
