"""Local stand-in for login.microsoftonline.com and graph.microsoft.com (demo and tests only)."""
