"""Alerting at the edge: delivery, routing state, beat ticks (digests, holds, throttles), spikes, health, sinks."""
