"""The adjudication service.

Plans, policies, accumulators, risk rules, the review queue, the benefit calculation and decisions.
"""
