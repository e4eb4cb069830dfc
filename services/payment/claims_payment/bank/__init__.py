"""Bank adapters implementing ``claims_payment.domain.bank.Bank``."""
