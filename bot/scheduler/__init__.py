"""Time-driven work: SLA escalation, reminders before deadlines, auto-close."""
