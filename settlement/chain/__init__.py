"""The chain: connection and signing, the journal, the settler, Merkle trees, contracts."""
