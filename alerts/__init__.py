"""Analytics workers, alerts and their live push (built in a later issue)."""
