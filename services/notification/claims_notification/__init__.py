"""The notification service.

Templates, channels (e-mail, SMS, in-app), the delivery log, surveys and feedback.
"""
