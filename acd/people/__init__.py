"""People in the loop: users and roles, tokens, sessions, audit, the live snapshot."""
