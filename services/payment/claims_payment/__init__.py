"""The payment service.

Payments to members and hospitals, the bank adapter, ISO 20022 batches, the ledger and reconciliation.
"""
