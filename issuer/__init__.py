"""The issuer: registry, issuance, revocation and status lists."""
