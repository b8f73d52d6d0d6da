"""Reading and acting on the audit log and the central state: audit queries, the HTML report, exemptions,
undo, scan, the local sweep and the rate limiter they share."""
