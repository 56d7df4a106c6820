"""Alert rules, rendering and delivery."""
