"""FHIR R4B for hospitals: Claim in, ClaimResponse out."""
