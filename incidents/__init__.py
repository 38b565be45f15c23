"""Incidents: intake and duplicates, routing, deadlines, lifecycle, answers and escalation."""
