"""The agents' inbox: the ticket list, its views (built-in and saved) and bulk actions."""
