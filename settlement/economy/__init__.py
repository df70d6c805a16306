"""The community's economy on chain: its DAO (votes, governor, timelock, treasury) and the share
tokens of its assets. Contracts in ``settlement/chain/contracts/src``; clients here."""
