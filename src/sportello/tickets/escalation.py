"""Support tiers: escalate and de-escalate a ticket between groups of different tiers."""
