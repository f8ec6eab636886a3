"""The anonymous tip portal and its triage (built in a later issue)."""
