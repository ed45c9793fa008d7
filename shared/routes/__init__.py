"""Route groups that functions mount beside their own routes."""
