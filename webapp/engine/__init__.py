"""The sync engine: reconcile a group with a team, load the team side, apply the plan, start runs."""
