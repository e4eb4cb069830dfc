"""Event buses: Apache Kafka, and the in-process bus of the embedded mode, behind one interface."""

from claims_platform.bus.base import EventBus, Message, MessageHandler

__all__ = ["EventBus", "Message", "MessageHandler"]
