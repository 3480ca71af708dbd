"""The closed loop (案件闭环): cases, workflow, SLA clocks, routing and assessment metrics."""
