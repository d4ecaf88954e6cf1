"""The wallet: accounts, encrypted credentials, holder keys, presentations."""
