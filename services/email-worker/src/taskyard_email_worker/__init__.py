"""`taskyard.email.send`: render one message from sandboxed templates and send it over SMTP."""
