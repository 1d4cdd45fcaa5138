"""Small widgets the screens compose; each owns only its own looks."""
