"""Notifications for new events: MQTT (with Home Assistant discovery) and signed webhooks.

``channel`` decides how events travel: the processor's listener hands each new event to one
bounded in-memory queue per sink and returns at once (a full queue drops and counts); one
thread per sink applies the per-camera rate limit (``ratelimit``) and sends. ``mqtt`` and
``webhook`` are the sinks. A broker or receiver that is down costs a counted failure, never a
blocked or failed ingest.
"""
